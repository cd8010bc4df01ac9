"""Fixtures: private MariaDB servers in temporary directories and real local clusters.

Tools the tests need (helm, promtool and prometheus, checkov, hadolint, Chromium, kmock, ...) are installed by
scripts/test.sh. Without one, its tests are skipped with the reason; under TASKRAFT_REQUIRE_TOOLS=1 (set by
.ci/run) no test outside tests/e2e/ may skip at all: every skip, whoever raised it, is reported as a failure.
The kind e2e suite (tests/e2e/) needs a real Kubernetes cluster, which CI does not have, so it may skip.
"""

from __future__ import annotations

import itertools
import os
import shutil

import pymysql
import pytest
import requests

from taskraft.config import MySQLSettings
from taskraft.localcluster.cluster import LocalCluster
from taskraft.localcluster.mysqld import MySQLServer
from taskraft.state.schema import migrate

from .helpers import TEST_ADMIN_TOKEN, free_port, free_port_base

_db_names = itertools.count()

REQUIRE_TOOLS = "TASKRAFT_REQUIRE_TOOLS"
MAY_SKIP = ("tests/e2e/",)  # node id prefixes that may still skip under TASKRAFT_REQUIRE_TOOLS=1
_skipped_modules: list[str] = []


# Authentication is on (TASKRAFT_AUTH's default). Every local cluster the tests start takes this admin token
# (LocalCluster reads TASKRAFT_ADMIN_TOKEN when it makes a new data dir), every client the tests run as a
# process (the CLI, the load generator) finds it in TASKRAFT_TOKEN, and every request the tests send with
# `requests` carries it unless it sets an Authorization header of its own (None sends none).
os.environ["TASKRAFT_ADMIN_TOKEN"] = TEST_ADMIN_TOKEN
os.environ["TASKRAFT_TOKEN"] = TEST_ADMIN_TOKEN
_send = requests.Session.request


def _send_with_token(self, method, url, *args, **kwargs):
    headers = kwargs.get("headers") or {}
    if "Authorization" not in self.headers and not any(k.lower() == "authorization" for k in headers):
        kwargs["headers"] = {**headers, "Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}
    return _send(self, method, url, *args, **kwargs)


requests.Session.request = _send_with_token  # type: ignore[method-assign]


def tools_required() -> bool:
    return os.environ.get(REQUIRE_TOOLS) == "1"


def missing_tool(message: str) -> None:
    """Skip the test because a tool is missing; fail it instead under TASKRAFT_REQUIRE_TOOLS=1."""
    if tools_required():
        pytest.fail(f"{message} ({REQUIRE_TOOLS}=1: this test must run, not skip)", pytrace=False)
    pytest.skip(message)


def _may_skip(nodeid: str) -> bool:
    return nodeid.startswith(MAY_SKIP)


@pytest.fixture(scope="session")
def mysql_server(tmp_path_factory):
    server = MySQLServer(tmp_path_factory.mktemp("mysqld"), free_port()).start()
    server.bootstrap("unused", "taskraft", "test-password")
    yield server
    server.stop()


@pytest.fixture
def make_db(mysql_server):
    """Create fresh, migrated databases on the session's server; returns their MySQLSettings."""

    def _make() -> MySQLSettings:
        name = f"t{next(_db_names)}"
        conn = mysql_server.root_connection()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
            cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            cur.execute(f"GRANT ALL PRIVILEGES ON {name}.* TO 'taskraft'@'127.0.0.1'")
        conn.close()
        settings = MySQLSettings(port=mysql_server.port, user="taskraft", password="test-password", database=name)
        conn = pymysql.connect(**settings.connect_kwargs())
        migrate(conn)
        conn.close()
        return settings

    return _make


@pytest.fixture
def db(make_db):
    settings = make_db()
    conn = pymysql.connect(**settings.connect_kwargs())
    yield conn
    conn.close()


def start_cluster(tmp_path, nodes: int = 3, extra_env: dict | None = None, room: int = 0) -> LocalCluster:
    """`nodes` running nodes with a leader; the port base leaves room for `room` more nodes."""
    base = free_port_base(nodes + room)
    cluster = LocalCluster(tmp_path, nodes=nodes, port_base=base, extra_env=extra_env)
    try:
        cluster.start(wait=180)
        cluster.wait_leader(30)
    except BaseException:
        dump_logs(cluster)
        cluster.stop()
        raise
    return cluster


def dump_logs(cluster: LocalCluster, lines: int = 40) -> None:
    for node in cluster.nodes:
        try:
            text = node.log_path.read_text().splitlines()[-lines:]
        except OSError:
            continue
        print(f"----- {node.node_id} log (last {lines} lines) -----")
        print("\n".join(text))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    path = tmp_path_factory.mktemp("cluster")
    c = start_cluster(path)
    yield c
    c.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and tools_required() and not hasattr(report, "wasxfail") and not _may_skip(item.nodeid):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under {REQUIRE_TOOLS}=1, which allows no skip outside tests/e2e/: {reason}"
    setattr(item, "rep_" + report.when, report)


def pytest_collectreport(report):
    """A whole module skipped at import (pytest.importorskip, allow_module_level) under TASKRAFT_REQUIRE_TOOLS=1:
    remembered here, and turned into a failed session in pytest_sessionfinish."""
    if report.skipped and tools_required() and not _may_skip(report.nodeid):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped_modules.append(f"{report.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter):
    for line in _skipped_modules:
        terminalreporter.write_line(f"FAILED (module skipped under {REQUIRE_TOOLS}=1) {line}", red=True, bold=True)


def pytest_sessionfinish(session, exitstatus):
    if _skipped_modules and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
