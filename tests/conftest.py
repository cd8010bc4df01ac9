"""Fixtures: private MariaDB servers in temporary directories and real local clusters."""

from __future__ import annotations

import itertools
import shutil

import pymysql
import pytest

from taskraft.config import MySQLSettings
from taskraft.localcluster.cluster import LocalCluster
from taskraft.localcluster.mysqld import MySQLServer
from taskraft.state.schema import migrate

from .helpers import free_port, free_port_base

_db_names = itertools.count()


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


def start_cluster(tmp_path, nodes: int = 3, extra_env: dict | None = None) -> LocalCluster:
    cluster = LocalCluster(tmp_path, nodes=nodes, port_base=free_port_base(nodes), extra_env=extra_env)
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
    setattr(item, "rep_" + report.when, report)
