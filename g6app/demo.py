"""``python -m g6app demo``: the real server (gunicorn, gevent workers) fed by the simulator.

Runs ``gunicorn -c gunicorn.conf.py wsgi:app`` as a child process and the simulator in this
one, so the dashboard at http://127.0.0.1:9325 moves every second. Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from .simulator import Simulator
from .source import write_atomic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status-file", default=os.environ.get("G6_STATUS_FILE",
                                                                "data/runtime_status.json"))
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between cycles")


def run(args: argparse.Namespace) -> int:
    # SIGTERM ends the demo like Ctrl-C does: through the finally below, which stops gunicorn.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    status_file = os.path.abspath(args.status_file)
    sim = Simulator(interval_seconds=args.interval)
    write_atomic(status_file, sim.step(), create_directory=True)
    env = {**os.environ, "G6_STATUS_FILE": status_file}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=env,
        # Its own session: Ctrl-C reaches only this process, which then stops gunicorn
        # gracefully (SIGTERM: every stream gets bye) instead of gunicorn's quick SIGINT exit.
        start_new_session=True)
    try:
        while server.poll() is None:
            time.sleep(args.interval)
            write_atomic(status_file, sim.step(), create_directory=True)
    except KeyboardInterrupt:
        pass
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return server.returncode or 0
