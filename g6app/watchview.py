"""How the watch command shows a board: plain text (pipes, tests) or a live rich screen.

Both views take the board and a connection status and draw; neither knows about sockets or
events. Changed panels are highlighted for ``FLASH_SECONDS`` on the live screen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel as RichPanel
from rich.table import Table
from rich.text import Text

from .board import Board

FLASH_SECONDS = 2.0
STATE_STYLES = {"live": "bold green", "connecting": "yellow", "reconnecting": "yellow",
                "stale": "bold yellow"}


@dataclass
class Status:
    """The connection as a person should see it: state and, when not live, why."""

    state: str = "connecting"
    detail: str = ""


def status_line(board: Board, status: Status, now: float) -> str:
    """One line: state, cycle, state id, last change, hash checks, and the counters."""
    state = status.state + (f" ({status.detail})" if status.detail else "")
    changed = "—"
    if board.last_change_at is not None:
        changed = time.strftime("%H:%M:%S", time.localtime(board.last_change_at))
        changed += f" ({max(0, round(now - board.last_change_at))}s ago)"
    parts = [state, f"cycle {board.cycle if board.cycle is not None else '—'}",
             f"id {board.resume_id or '—'}", f"changed {changed}",
             f"verified {board.verified_count}/{len(board.panels)}",
             f"snapshots {board.snapshots}", f"resumes {board.resumes}"]
    if board.source_error:
        parts.append(f"source error: {board.source_error}")
    return "  ".join(parts)


def plain_text(board: Board) -> str:
    """The panels as text blocks in panel order; a failed hash check is said on the title."""
    blocks = []
    for key in board.keys:
        panel = board.panels.get(key)
        if panel is None:
            blocks.append(f"[{key}]\n  (not received)")
            continue
        mark = "" if panel.verified else "  !! hash mismatch"
        blocks.append("\n".join([f"[{panel.title}]{mark}", *(f"  {line}" for line in panel.lines)]))
    return "\n".join(blocks)


class QuietView:
    """Draws nothing while watching (``--once`` prints the board when it is complete)."""

    def show(self, board: Board, status: Status, changed: list[str], now: float) -> None:
        pass

    def close(self) -> None:
        pass


class PlainView:
    """Prints the panels whenever they change and a line whenever the connection does."""

    def __init__(self, out: TextIO):
        self.out = out
        self._last_status: tuple[str, str] | None = None
        self._dirty = False

    def show(self, board: Board, status: Status, changed: list[str], now: float) -> None:
        self._dirty = self._dirty or bool(changed)
        if self._dirty and not board.in_transfer:
            self._dirty = False
            self.out.write(f"== {status_line(board, status, now)}\n{plain_text(board)}\n")
        elif (status.state, status.detail) != self._last_status:
            self.out.write(f"-- {status_line(board, status, now)}\n")
        self._last_status = (status.state, status.detail)
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


def render(board: Board, status: Status, now: float, width: int) -> Group:
    """The live screen: a status bar, then the panels in a grid (two columns when wide)."""
    bar = Text(status_line(board, status, now), style=STATE_STYLES.get(status.state, "red"))
    columns = 2 if width >= 150 else 1
    grid = Table.grid(expand=True, padding=(0, 1))
    for _ in range(columns):
        grid.add_column(ratio=1)
    cells = []
    for key in board.keys:
        panel = board.panels.get(key)
        if panel is None:
            cells.append(RichPanel(Text("waiting…", style="dim"), title=Text(key)))
            continue
        flashing = now - panel.changed_at < FLASH_SECONDS and board.updates > 0
        title = panel.title + ("" if panel.verified else "  [hash mismatch]")
        border = "red" if not panel.verified else "yellow" if flashing else "blue"
        cells.append(RichPanel(Text("\n".join(panel.lines), no_wrap=True, overflow="ellipsis"),
                               title=Text(title), title_align="left", border_style=border))
    for start in range(0, len(cells), columns):
        grid.add_row(*cells[start:start + columns])
    return Group(bar, grid)


class LiveView:
    """A rich Live screen redrawn on every change and once a second for ages and highlights."""

    def __init__(self, console: Console):
        self.console = console
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self.live.start()

    def show(self, board: Board, status: Status, changed: list[str], now: float) -> None:
        self.live.update(render(board, status, now, self.console.width), refresh=True)

    def close(self) -> None:
        self.live.stop()
