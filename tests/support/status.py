"""Status documents for tests: the shipped fixtures, and atomic writes of changed copies."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SIM_OPEN = "runtime_status_simulator_open.json"
SIM_CLOSED = "runtime_status_simulator_closed.json"
ORCHESTRATOR = "runtime_status_orchestrator_pytest_mock.json"


def load(name: str = SIM_OPEN) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def write(path: Path, document: Any) -> None:
    """Atomic replace, as the collector does."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document) if not isinstance(document, str) else document)
    os.replace(tmp, path)


def with_ltp(document: dict[str, Any], index: str, ltp: float) -> dict[str, Any]:
    """A copy whose only visible change is one index price (indices panel only)."""
    changed = copy.deepcopy(document)
    changed["indices"][index]["ltp"] = ltp
    return changed
