"""LocalCluster: start, stop, kill, wipe and restart the nodes and databases of a cluster on this machine.

Layout of a data dir:
    DIR/cluster.json        what runs where (node_id, url, raft_address, pid, db_pid, db_port)
    DIR/secrets.json        Raft secret and MySQL password, generated once and kept
    DIR/admin-token         the bootstrap admin API token (mode 0600), generated once (or taken from
                            TASKRAFT_ADMIN_TOKEN the first time) and given to every node as a file
    DIR/node-<i>/mysql/     the node's MariaDB/MySQL server (datadir, socket, log)
    DIR/node-<i>/raft/      the node's Raft journal and snapshot
    DIR/node-<i>/node.log   the node's log
Node i serves HTTP on port_base+i, Raft on port_base+100+i, and its database listens on port_base+200+i.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, wait_fixed

from ..consensus.cluster_record import FILE_KEY, locked_json
from . import certs, local_secrets
from .mysqld import MySQLServer, find_server_binary
from .restore_dir import restore_file

RAFT_OFFSET = 100
DB_OFFSET = 200
DB_NAME = "taskraft"
DB_USER = "taskraft"


@dataclass
class LocalNode:
    index: int
    node_id: str
    http_port: int
    raft_port: int
    db: MySQLServer
    home: Path
    process: subprocess.Popen | None = None
    pid: int | None = None
    host: str = "127.0.0.1"  # where its HTTP API is reached
    raft_host: str = "127.0.0.1"  # the name or address peers reach its Raft port at
    bind_host: str = "127.0.0.1"
    prefix: tuple[str, ...] = ()  # command prefix that places its processes (e.g. ip netns exec NS)
    scheme: str = "http"  # https with --tls (certs.py)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.http_port}"

    @property
    def raft_address(self) -> str:
        return f"{self.raft_host}:{self.raft_port}"

    @property
    def raft_dir(self) -> Path:
        return self.home / "raft"

    @property
    def log_path(self) -> Path:
        return self.home / "node.log"


class LocalCluster:
    def __init__(
        self, data_dir, nodes: int = 3, port_base: int = 8080, extra_env: dict | None = None, tls: bool = False
    ):
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self.data_dir = Path(data_dir).resolve()
        self.port_base = port_base
        self.extra_env = dict(extra_env or {})
        self.tls = tls  # HTTPS on every node's HTTP port, certificates of certs.py
        # what requests verify the nodes against: the local CA (made once, kept) with --tls
        self.verify: str | bool = str(certs.ensure_ca(self.data_dir)) if tls else True
        self._binary = find_server_binary()
        self.nodes = [self._new_node(i) for i in range(nodes)]
        self.secrets = local_secrets.load_secrets(self.data_dir)
        # admin_token_created: True when this object made the admin token (to print it once)
        self.admin_token, self.admin_token_created = local_secrets.load_admin_token(self.admin_token_path)

    def _new_node(self, i: int) -> LocalNode:
        return LocalNode(
            scheme="https" if self.tls else "http",
            index=i,
            node_id=f"node-{i}",
            http_port=self.port_base + i,
            raft_port=self.port_base + RAFT_OFFSET + i,
            db=MySQLServer(self.data_dir / f"node-{i}" / "mysql", self.port_base + DB_OFFSET + i, self._binary),
            home=self.data_dir / f"node-{i}",
        )

    def add_node(self) -> int:
        """Start one more node (its database, then the node) and return its index. It is not a member
        until the cluster adds it (`taskraft cluster members add`): it waits to be contacted."""
        i = len(self.nodes)
        self.nodes.append(self._new_node(i))
        self.start_db(i)
        self.start_node(i)
        return i

    # -- whole cluster -------------------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def start(self, wait: float = 120.0) -> LocalCluster:
        for node in self.nodes:
            self.start_db(node.index)
        for node in self.nodes:
            self.start_node(node.index)
        self.write_manifest()
        if wait:
            self.wait_ready(wait)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            self.stop_node(node.index)
        for node in self.nodes:
            node.db.stop()
        self.write_manifest()

    def wait_ready(self, timeout: float = 120.0, nodes: list[int] | None = None) -> None:
        """Every node (or those listed) answers /readyz with 200 within `timeout` seconds in all."""
        deadline = time.monotonic() + timeout
        for i in nodes if nodes is not None else range(len(self.nodes)):
            if not _poll(functools.partial(self._ready_or_exited, i), deadline - time.monotonic(), 0.1):
                raise TimeoutError(f"node-{i} not ready after {timeout}s; see {self.nodes[i].log_path}")

    def _ready_or_exited(self, i: int) -> bool:
        if self.is_ready(i):
            return True
        proc = self.nodes[i].process
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"node-{i} exited with {proc.returncode}; see {self.nodes[i].log_path}")
        return False

    def is_ready(self, i: int) -> bool:
        try:
            return requests.get(self.nodes[i].url + "/readyz", timeout=1, verify=self.verify).status_code == 200
        except requests.RequestException:
            return False

    def cluster_view(self, i: int) -> dict | None:
        try:
            r = requests.get(
                self.nodes[i].url + "/api/v1/cluster", headers=self.auth_headers, timeout=1, verify=self.verify
            )
            return r.json() if r.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    def leader_index(self, among: list[int] | None = None) -> int | None:
        """The node that says it leads, if every answering node agrees on it; else None."""
        leaders = set()
        for i in among if among is not None else range(len(self.nodes)):
            view = self.cluster_view(i)
            if view is None:
                continue
            leaders.add(view.get("leader"))
        if len(leaders) != 1:
            return None
        leader = leaders.pop()
        for node in self.nodes:
            if node.raft_address == leader:
                return node.index
        return None

    def wait_leader(self, timeout: float = 30.0, among: list[int] | None = None) -> int:
        def agreed() -> int | None:
            leader = self.leader_index(among)
            return leader if leader is not None and (among is None or leader in among) else None

        leader = _poll(agreed, timeout, 0.05, done=lambda index: index is not None)  # node 0 is a leader too
        if leader is None:
            raise TimeoutError("no agreed leader")
        return leader

    # -- one node --------------------------------------------------------------------------------

    def start_db(self, i: int) -> None:
        node = self.nodes[i]
        node.db.start()
        node.db.bootstrap(DB_NAME, DB_USER, self.secrets["mysql_password"])
        self.write_manifest()

    def stop_db(self, i: int) -> None:
        self.nodes[i].db.stop()
        self.write_manifest()

    def kill_db(self, i: int) -> None:
        self.nodes[i].db.kill()
        self.write_manifest()

    def node_env(self, i: int) -> dict:
        node = self.nodes[i]
        env = dict(os.environ)
        env.update(
            {
                "TASKRAFT_NODE_ID": node.node_id,
                "TASKRAFT_RAFT_ADVERTISE": node.raft_address,
                "TASKRAFT_RAFT_BIND": f"{node.bind_host}:{node.raft_port}",
                "TASKRAFT_PEERS": ",".join(n.raft_address for n in self.nodes),
                "TASKRAFT_HTTP_HOST": node.bind_host,
                "TASKRAFT_HTTP_PORT": str(node.http_port),
                "TASKRAFT_API_URL": node.url,
                "TASKRAFT_MYSQL_DSN": (
                    f"mysql://{DB_USER}:{self.secrets['mysql_password']}@127.0.0.1:{node.db.port}/{DB_NAME}"
                ),
                "TASKRAFT_DATA_DIR": str(node.raft_dir),
                "TASKRAFT_RAFT_SECRET_FILE": str(self.data_dir / "raft.secret"),
                "TASKRAFT_CLUSTER_RECORD": f"file:{self.manifest_path}",
                "TASKRAFT_ADMIN_TOKEN_FILE": str(self.admin_token_path),
            }
        )
        source = restore_file(self.data_dir)
        if source is not None:  # prepared by `taskraft restore`: a brand-new node starts from it (restore.py)
            env["TASKRAFT_RESTORE_FROM"] = str(source)
        env.pop("TASKRAFT_ADMIN_TOKEN", None)  # the file is the cluster's token, whatever this shell holds
        if self.tls:
            env.update(certs.node_env(self.data_dir, node.node_id, [node.host, node.raft_host]))
        env.update(self.extra_env)
        return env

    def start_node(self, i: int, env: dict | None = None) -> None:
        """Start node i; `env` overrides its TASKRAFT_* settings for this start only."""
        node = self.nodes[i]
        node.raft_dir.mkdir(parents=True, exist_ok=True)
        with open(node.log_path, "ab") as log:
            node.process = subprocess.Popen(
                [*node.prefix, sys.executable, "-m", "taskraft", "serve"],
                env={**self.node_env(i), **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        node.pid = node.process.pid
        self.write_manifest()

    def signal_node(self, i: int, sig: int) -> None:
        """Signal the node's process group (the gunicorn master and its worker)."""
        node = self.nodes[i]
        if node.pid:
            try:
                os.killpg(node.pid, sig)
            except ProcessLookupError:
                pass

    def kill_node(self, i: int) -> None:
        self.signal_node(i, signal.SIGKILL)
        self._wait_node_exit(i, 10)

    def pause_node(self, i: int) -> None:
        self.signal_node(i, signal.SIGSTOP)

    def resume_node(self, i: int) -> None:
        self.signal_node(i, signal.SIGCONT)

    def stop_node(self, i: int, timeout: float = 30.0) -> None:
        """SIGTERM: the graceful path (a leader hands off leadership before exiting)."""
        node = self.nodes[i]
        if node.pid is None:
            return
        try:
            os.kill(node.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not self._wait_node_exit(i, timeout):
            self.kill_node(i)

    def _wait_node_exit(self, i: int, timeout: float) -> bool:
        node = self.nodes[i]
        if node.process is None:
            return True
        try:
            node.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        # the worker dies with the master (PDEATHSIG), make sure the whole group is gone
        pgid = node.process.pid  # its own session and group (start_new_session): node.pid
        _poll(lambda: not _group_alive(pgid), 5, 0.05)
        return True

    def node_alive(self, i: int) -> bool:
        proc = self.nodes[i].process
        return proc is not None and proc.poll() is None

    def wipe_node(self, i: int, start: bool = True) -> None:
        """Stop node i and its database, delete both its database and its Raft state, start both again
        (unless `start` is False)."""
        node = self.nodes[i]
        self.kill_node(i)
        node.db.kill()
        shutil.rmtree(node.db.datadir, ignore_errors=True)
        shutil.rmtree(node.raft_dir, ignore_errors=True)
        if start:
            self.start_db(i)
            self.start_node(i)

    # -- files -----------------------------------------------------------------------------------

    @property
    def admin_token_path(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def auth_headers(self) -> dict[str, str]:
        """The admin token as a request header."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    def manifest(self) -> dict:
        return {
            "supervisor_pid": os.getpid(),
            "port_base": self.port_base,
            "ca_file": self.verify if self.tls else None,  # the CLI with --data-dir verifies against it
            "nodes": [
                {
                    "node_id": n.node_id,
                    "url": n.url,
                    "raft_address": n.raft_address,
                    "pid": n.pid if self.node_alive(n.index) else None,
                    "db_pid": n.db.pid if n.db.running else None,
                    "db_port": n.db.port,
                    "log": str(n.log_path),
                }
                for n in self.nodes
            ],
        }

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "cluster.json"

    def write_manifest(self) -> None:
        """Rewrite cluster.json, keeping the cluster id the leader records there (cluster_record.py)."""
        with locked_json(self.manifest_path) as data:
            kept = {key: data[key] for key in (FILE_KEY, "scale") if data.get(key)}  # scale: supervisor.py
            data.clear()
            data.update(self.manifest(), **kept)


def _poll(check: Callable[[], Any], timeout: float, interval: float, done: Callable[[Any], bool] = bool) -> Any:
    """Call `check` every `interval` seconds until `done(result)`, for at most `timeout` seconds; its last
    result (one that is not done when time ran out). Exceptions from `check` propagate."""
    return Retrying(
        retry=retry_if_result(lambda result: not done(result)),
        stop=stop_after_delay(max(timeout, 0.0)),
        wait=wait_fixed(interval),
        retry_error_callback=_last_result,
    )(check)


def _last_result(state: RetryCallState) -> Any:
    assert state.outcome is not None  # tenacity stops only after an attempt
    return state.outcome.result()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def read_manifest(data_dir) -> dict:
    return json.loads((Path(data_dir) / "cluster.json").read_text())
