"""The consensus layer refuses to start on a PySyncObj other than the one its bridge was written for."""

from __future__ import annotations

import subprocess
import sys

import pytest

from taskraft.consensus import pysyncobj_bridge as bridge


class _SyncObjWithoutTheHandlers:
    """A SyncObj look-alike that keeps its log and state but lacks the private handlers we override."""

    def __init__(self):
        self.__raftLog = []
        self.__raftState = 0

    def _checkCommandsToApply(self):
        pass


def test_the_installed_version_passes():
    bridge.check_pysyncobj()


def test_another_version_is_refused_with_both_versions_named():
    with pytest.raises(bridge.PySyncObjMismatch) as refused:
        bridge.check_pysyncobj(version="0.3.16")
    assert "0.3.17" in str(refused.value) and "installed: 0.3.16" in str(refused.value)


def test_every_missing_member_is_named():
    with pytest.raises(bridge.PySyncObjMismatch) as refused:
        bridge.check_pysyncobj(syncobj_cls=_SyncObjWithoutTheHandlers)
    message = str(refused.value)
    assert "SyncObj.__onMessageReceived()" in message
    assert "SyncObj.__raftElectionDeadline" in message  # a field the look-alike never sets
    assert "SyncObj.__raftLog," not in message  # one it does set is not reported
    assert "installed:" not in message  # the version itself is right


def test_a_node_process_does_not_start_on_another_version():
    """The check runs when the module is imported: the node fails at startup, naming what is missing."""
    code = (
        "import pysyncobj.version as v; v.VERSION = '0.3.99'\n"
        "import taskraft.consensus.raft\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "PySyncObjMismatch" in proc.stderr and "installed: 0.3.99" in proc.stderr
