"""The port itself: both implementations have NodePort's exact shape, and the running node's adapter
turns consensus and database failures into the port's errors (the node's parts are stand-ins here;
tests/api/test_errors.py and tests/cluster run the adapter on real nodes)."""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from types import SimpleNamespace

import pymysql
import pytest

from taskraft import commands as c
from taskraft.api.app import create_app
from taskraft.api.port import DatabaseUnavailable, NodePort, QuorumUnavailable, Readiness
from taskraft.consensus.proposals import Unavailable
from taskraft.node_port import TaskraftNodePort
from taskraft.state.machine import OpResult

from .memory_node import MemoryNode
from .unit_helpers import create, error_of

MEMBERS = sorted(name for name in vars(NodePort) if not name.startswith("_"))


def test_the_port_is_small():
    assert MEMBERS == sorted(
        [
            "started",
            "node_id",
            "raft_address",
            "request_timeout",
            "submit",
            "get_task",
            "list_tasks",
            "task_history",
            "readiness",
            "cluster_view",
            "cluster_overview",
            "task_counts",
            "change_members",
            "credential",
            "auth_epoch",
            "list_users",
            "list_tokens",
            "backup",
        ]
    )


@pytest.mark.parametrize("impl", [MemoryNode, TaskraftNodePort])
@pytest.mark.parametrize("name", MEMBERS)
def test_implementations_match_the_protocol(impl, name):
    wanted = inspect.getattr_static(NodePort, name)
    if isinstance(wanted, property):
        instance = MemoryNode() if impl is MemoryNode else TaskraftNodePort(_node())
        assert hasattr(instance, name)
        return
    got = inspect.getattr_static(impl, name)
    assert callable(got), f"{impl.__name__}.{name} is not a method"

    def shape(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert shape(got) == shape(wanted)


class _Proposer:
    def __init__(self):
        self.answer: OpResult | Exception = OpResult(c.DELETED, {"id": 1})
        self.deadlines: list[float] = []

    def write(self, op, deadline):
        self.deadlines.append(deadline)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class _Barrier:
    def __init__(self):
        self.fail = False
        self.waits = 0

    def wait(self, deadline):
        self.waits += 1
        if self.fail:
            raise Unavailable("no quorum within the deadline")


class _DownConnection:
    closed = False

    def cursor(self):
        raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")

    def close(self):
        self.closed = True


class _Pool:
    def __init__(self):
        self.refuse = False
        self.handed_out: list[_DownConnection] = []

    def connection(self):
        if self.refuse:
            raise pymysql.err.OperationalError(2003, "Can't connect to MySQL server")
        self.handed_out.append(_DownConnection())
        return self.handed_out[-1]


def _node(started: bool = True, diverged: str | None = None):
    from taskraft.node import Diverged

    def check_serving():
        if diverged is not None:
            raise Diverged(diverged)

    proposer = _Proposer()
    return SimpleNamespace(
        started=started,
        cfg=SimpleNamespace(
            node_id="node-7",
            raft_advertise="10.0.0.7:8180",
            request_timeout=2.5,
            tls_ca_file=None,
            raft_secret=None,
            data_dir=Path("/nonexistent/taskraft-unit-port"),  # no backup record there: none served yet
        ),
        proposer=proposer,
        write=proposer.write,
        check_serving=check_serving,
        barrier=_Barrier(),
        pool=_Pool(),
        readiness=lambda: (False, ["no known leader"]),
        cluster_view=lambda: {"node_id": "node-7"},
        applier=SimpleNamespace(auth_epoch=0),
    )


def test_adapter_never_reads_a_diverged_database():
    port = TaskraftNodePort(_node(diverged="raft_log holds index 7 at term 2, the log has it at term 3"))
    with pytest.raises(DatabaseUnavailable):
        port.get_task(1, consistency="local", deadline=time.monotonic() + 1)
    with pytest.raises(DatabaseUnavailable):
        port.list_tasks(status=None, limit=10, after=None, consistency="linearizable", deadline=time.monotonic() + 1)


def test_adapter_settings_and_pass_throughs():
    port = TaskraftNodePort(_node())
    assert (port.started, port.node_id, port.raft_address, port.request_timeout) == (
        True,
        "node-7",
        "10.0.0.7:8180",
        2.5,
    )
    assert port.readiness() == Readiness(False, ["no known leader"]) and port.readiness().ready is False
    assert port.cluster_view() == {"node_id": "node-7"}
    overview = port.cluster_overview()
    assert overview["node_id"] == "node-7" and overview["nodes"] == [] and port.cluster_overview() is overview
    assert TaskraftNodePort(_node(started=False)).started is False


def test_adapter_write_answers_and_no_quorum():
    node = _node()
    port = TaskraftNodePort(node)
    assert port.submit({"rid": "r"}, 12.0) == OpResult(c.DELETED, {"id": 1})
    node.proposer.answer = Unavailable("no quorum within the deadline")
    with pytest.raises(QuorumUnavailable):
        port.submit({"rid": "r"}, 12.0)


def test_adapter_reads_wait_on_the_barrier_only_when_linearizable():
    node = _node()
    port = TaskraftNodePort(node)
    with pytest.raises(DatabaseUnavailable):
        port.get_task(1, consistency="local", deadline=0)
    assert node.barrier.waits == 0
    with pytest.raises(DatabaseUnavailable):
        port.list_tasks(status=None, limit=5, after=None, consistency="linearizable", deadline=0)
    assert node.barrier.waits == 1
    assert all(conn.closed for conn in node.pool.handed_out) and len(node.pool.handed_out) == 2
    node.barrier.fail = True
    with pytest.raises(QuorumUnavailable):
        port.task_history(1, consistency="linearizable", deadline=0)
    with pytest.raises(ValueError):
        port.get_task(1, consistency="eventual", deadline=0)


def test_adapter_database_refusing_connections():
    node = _node()
    node.pool.refuse = True
    port = TaskraftNodePort(node)
    with pytest.raises(DatabaseUnavailable):
        port.task_counts()
    with pytest.raises(DatabaseUnavailable):
        port.get_task(1, consistency="local", deadline=0)


def test_adapter_behind_the_app():
    node = _node()
    client = create_app(TaskraftNodePort(node)).test_client()
    before = time.monotonic()
    assert client.delete("/api/v1/tasks/1").status_code == 204
    assert before + 2.5 <= node.proposer.deadlines[-1] <= time.monotonic() + 2.5
    node.proposer.answer = Unavailable("no quorum within the deadline")
    error_of(create(client), 503, "no_quorum")
    error_of(client.get("/api/v1/tasks/1", query_string={"consistency": "local"}), 503, "database_unavailable")
    node.barrier.fail = True
    error_of(client.get("/api/v1/tasks"), 503, "no_quorum")
    r = client.get("/readyz")
    assert r.status_code == 503 and r.get_json() == {"ready": False, "reasons": ["no known leader"]}
    assert client.get("/metrics").status_code == 200
    node.started = False
    error_of(create(client), 503, "starting")
