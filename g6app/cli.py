"""Command line: ``python -m g6app COMMAND``; each command lives in its own module.

A command module provides ``add_arguments(parser)`` and ``run(args) -> int``; this module only
dispatches, importing the chosen command alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "demo": ("g6app.demo", "run the server with a live simulated status feed"),
    "simulate": ("g6app.simulator", "write simulated status documents to a file"),
    "watch": ("g6app.watch", "show the live panels of a server in the terminal"),
    "publish": ("g6app.publish", "push a status document to a server's ingest endpoint"),
    "bench": ("g6app.bench", "measure the stream server with many clients (see BENCHMARKS.md)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m g6app")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = (argv if argv is not None else sys.argv[1:])[:1]
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        if chosen == [name]:
            importlib.import_module(module_name).add_arguments(sub_parser)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)
