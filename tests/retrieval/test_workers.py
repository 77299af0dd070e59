"""Per-file work over forked processes: the pool can close whatever SIGTERM handler the program set."""

from __future__ import annotations

import subprocess
import sys

from siamkit.retrieval.workers import MIN_FILES

# A SIGTERM handler that only takes note, as Lightning's does while a fit runs. The pool stops its
# workers by SIGTERM as it closes; forked with that handler, a worker waiting for work (the pool
# holds the queue's lock by then) ignored it, and the pool's close waited for ever (seen once in
# the suite: the README's training snippet, its leak check hashing over 256 files).
PROGRAM = f"""
import signal
from siamkit.retrieval.workers import map_files

def ends_on_sigterm(path):
    return signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

signal.signal(signal.SIGTERM, lambda *args: None)
print(all(map_files(ends_on_sigterm, ["x"] * {MIN_FILES}, 2, "files")))
"""


def test_the_pools_workers_end_on_sigterm_whatever_handler_the_program_set():
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stdout + done.stderr
