"""Run the real CLI (`python -m taskraft`) as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

BOGUS = "http://127.0.0.1:1"  # nothing listens on port 1


def run(*args: str, env: dict | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "TASKRAFT_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "taskraft", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
