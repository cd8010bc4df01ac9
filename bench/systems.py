"""The systems under test: taskraft's local cluster and the two baselines (etcd, Galera + a Flask task API).

Each one starts on free loopback ports inside a temporary directory, and is torn down by stop().
`available()` says why a system cannot run (a server that is not installed), so its rows can say so.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pymysql
import requests

from taskraft.localcluster.cluster import LocalCluster
from taskraft.localcluster.mysqld import SERVER_OPTIONS, MySQLNotFound, MySQLServer, find_server_binary
from tests.helpers import free_port, free_port_base

from .procstat import group_pids

REPO = Path(__file__).resolve().parent.parent
GALERA_PROVIDER = "/usr/lib/galera/libgalera_smm.so"


def _wait(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout}s")


def _signal_group(pid: int | None, sig: int) -> None:
    if pid:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class System:
    name = "?"
    failover_kinds: tuple[str, ...] = ()  # which failover scenarios make sense

    @classmethod
    def available(cls) -> str | None:
        """None when the system can run here, else why not."""
        return None

    def settings(self) -> dict:
        return {}

    def cpu_groups(self) -> dict:
        return {}

    def node_rss_pids(self) -> list[list[int]]:
        return []

    def urls(self) -> list[str]:
        return []

    def read_urls(self) -> list[str]:
        """Where reads go: every node (the clients are spread over them)."""
        return self.urls()

    def read_keys(self) -> list[str] | None:
        """What reads draw from, when it is not task ids 1..N: the keys or ids this system holds."""
        return None


# -- taskraft ----------------------------------------------------------------------------------------------


class Taskraft(System):
    name = "taskraft"
    kind = "taskraft"

    def __init__(self, tmp: Path, extra_env: dict | None = None):
        self.extra_env = dict(extra_env or {})
        self.cluster = LocalCluster(tmp / "taskraft", nodes=3, port_base=free_port_base(3), extra_env=self.extra_env)

    @classmethod
    def bound(cls, cluster: LocalCluster, extra_env: dict | None = None) -> Taskraft:
        """The same system on a LocalCluster made elsewhere (a cluster restored from a backup, a test's)."""
        system = cls.__new__(cls)
        system.cluster, system.extra_env = cluster, dict(extra_env or {})
        return system

    def settings(self) -> dict:
        knobs = {k: v for k, v in os.environ.items() if k.startswith("TASKRAFT_")}
        knobs.update(self.extra_env)
        return {
            "nodes": 3,
            "node": "gunicorn, 1 worker (taskraft serve)",
            "mysqld": " ".join(SERVER_OPTIONS),
            "env": knobs or "defaults",
        }

    def start(self) -> None:
        self.cluster.start(wait=180)
        self.cluster.wait_leader(30)

    def stop(self) -> None:
        self.cluster.stop()

    def leader(self) -> int:
        return self.cluster.wait_leader(30)

    def urls(self) -> list[str]:
        return self.cluster.urls

    def node_pids(self, i: int) -> list[int]:
        pid = self.cluster.nodes[i].pid
        return group_pids(pid) if pid and self.cluster.node_alive(i) else []

    def cpu_groups(self) -> dict:
        n = len(self.cluster.nodes)
        return {
            "nodes": lambda: [p for i in range(n) for p in self.node_pids(i)],
            "databases": lambda: [node.db.pid for node in self.cluster.nodes if _alive(node.db.pid)],
        }

    def node_rss_pids(self) -> list[list[int]]:
        return [self.node_pids(i) for i in range(len(self.cluster.nodes))]

    def kill(self, i: int) -> None:
        self.cluster.kill_node(i)

    def terminate(self, i: int) -> None:
        self.cluster.stop_node(i)

    def restart(self, i: int) -> None:
        self.cluster.start_node(i)
        self.cluster.wait_ready(90, [i])

    def view(self, i: int) -> dict | None:
        return self.cluster.cluster_view(i)


# -- etcd -----------------------------------------------------------------------------------------------------


class Etcd(System):
    name = "etcd"
    kind = "etcd"

    @staticmethod
    def binary() -> str | None:
        return shutil.which("etcd") or (os.access("/usr/bin/etcd", os.X_OK) and "/usr/bin/etcd") or None

    @classmethod
    def available(cls) -> str | None:
        if not cls.binary():
            return "not installed (apt-get install etcd-server)"
        return None

    def __init__(self, tmp: Path):
        self.dir = tmp / "etcd"
        self.client_ports = [free_port() for _ in range(3)]
        self.peer_ports = [free_port() for _ in range(3)]
        self.procs: list[subprocess.Popen | None] = [None] * 3
        self.token = f"bench-{os.getpid()}-{int(time.time())}"
        self._version = subprocess.run([self.binary(), "--version"], capture_output=True, text=True).stdout.split("\n")[
            0
        ]

    def command(self, i: int) -> list[str]:
        cluster = ",".join(f"m{j}=http://127.0.0.1:{p}" for j, p in enumerate(self.peer_ports))
        return [
            self.binary(),
            f"--name=m{i}",
            f"--data-dir={self.dir / f'm{i}'}",
            f"--listen-client-urls=http://127.0.0.1:{self.client_ports[i]}",
            f"--advertise-client-urls=http://127.0.0.1:{self.client_ports[i]}",
            f"--listen-peer-urls=http://127.0.0.1:{self.peer_ports[i]}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{self.peer_ports[i]}",
            f"--initial-cluster={cluster}",
            "--initial-cluster-state=new",
            f"--initial-cluster-token={self.token}",
            "--logger=zap",
            "--log-level=warn",
        ]

    def settings(self) -> dict:
        return {
            "version": self._version,
            "members": 3,
            "flags": "defaults (heartbeat 100 ms, election 1000 ms, snapshot-count 100000, fsync on)",
            "writes": "HTTP/JSON gateway POST /v3/kv/put, 16-byte key, 64-byte value",
        }

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.client_ports]

    def start_member(self, i: int) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        log = open(self.dir / f"m{i}.log", "ab")
        self.procs[i] = subprocess.Popen(
            self.command(i), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()

    def start(self) -> None:
        for i in range(3):
            self.start_member(i)
        self.wait_healthy(range(3), 60)
        self.leader()

    def wait_healthy(self, members, timeout: float) -> None:
        def ok(i):
            try:
                return requests.get(self.urls()[i] + "/health", timeout=1).json().get("health") == "true"
            except (requests.RequestException, ValueError):
                return False

        for i in members:
            _wait(lambda i=i: ok(i), timeout, f"etcd m{i} healthy")

    def status(self, i: int) -> dict | None:
        try:
            return requests.post(self.urls()[i] + "/v3/maintenance/status", json={}, timeout=1).json()
        except (requests.RequestException, ValueError):
            return None

    def leader(self) -> int:
        def find():
            ids, leaders = {}, set()
            for i in range(3):
                if self.procs[i] is None or self.procs[i].poll() is not None:
                    continue
                st = self.status(i)
                if st and "header" in st:
                    ids[st["header"]["member_id"]] = i
                    leaders.add(st.get("leader"))
            if len(leaders) == 1:
                lid = leaders.pop()
                if lid in ids:
                    return ids[lid] + 1  # truthy
            return None

        return _wait(find, 30, "etcd leader") - 1

    def read_keys(self) -> list[str]:
        """Every key under bench/ (the keys the writes wrote), read linearizably from the leader."""
        prefix = b"bench/"
        body = {
            "key": base64.b64encode(prefix).decode(),
            "range_end": base64.b64encode(prefix[:-1] + bytes([prefix[-1] + 1])).decode(),
            "keys_only": True,
        }
        r = requests.post(self.urls()[self.leader()] + "/v3/kv/range", json=body, timeout=60)
        r.raise_for_status()
        return [base64.b64decode(kv["key"]).decode() for kv in r.json().get("kvs", [])]

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def cpu_groups(self) -> dict:
        return {"nodes": self.pids}

    def node_rss_pids(self) -> list[list[int]]:
        return [[p.pid] if p is not None and p.poll() is None else [] for p in self.procs]

    def kill(self, i: int) -> None:
        p = self.procs[i]
        p.send_signal(signal.SIGKILL)
        p.wait(10)

    def terminate(self, i: int) -> None:
        p = self.procs[i]
        p.send_signal(signal.SIGTERM)
        p.wait(30)

    def restart(self, i: int) -> None:
        self.start_member(i)
        self.wait_healthy([i], 60)

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()


# -- Galera + Flask task API -----------------------------------------------------------------------------


class Galera(System):
    name = "galera"
    kind = "galera"
    DB, USER, PASSWORD = "bench", "bench", "bench-password"

    @classmethod
    def available(cls) -> str | None:
        try:
            find_server_binary()
        except MySQLNotFound:
            return "not installed (apt-get install mariadb-server galera-4)"
        if not os.path.exists(GALERA_PROVIDER):
            return f"not installed: {GALERA_PROVIDER} missing (apt-get install galera-4)"
        if not shutil.which("rsync"):
            return "not installed: rsync (needed for state transfer) missing"
        return None

    def __init__(self, tmp: Path):
        self.dir = tmp / "galera"
        self.binary = find_server_binary()
        self.ports = {k: [free_port() for _ in range(3)] for k in ("mysql", "gcomm", "ist", "sst")}
        self.servers = [MySQLServer(self.dir / f"g{i}", self.ports["mysql"][i], self.binary) for i in range(3)]
        self.procs: list[subprocess.Popen | None] = [None] * 3
        self.api_ports = [free_port() for _ in range(3)]  # one API per member; API i reads from member i
        self.apis: list[subprocess.Popen | None] = [None] * 3

    def wsrep_options(self, i: int, new_cluster: bool) -> list[str]:
        gcomm = ",".join(f"127.0.0.1:{p}" for p in self.ports["gcomm"])
        opts = [
            "--wsrep-on=ON",
            f"--wsrep-provider={GALERA_PROVIDER}",
            "--wsrep-cluster-name=bench",
            f"--wsrep-cluster-address=gcomm://{gcomm}",
            f"--wsrep-node-name=g{i}",
            f"--wsrep-node-address=127.0.0.1:{self.ports['gcomm'][i]}",
            f"--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{self.ports['gcomm'][i]};"
            f"ist.recv_addr=127.0.0.1:{self.ports['ist'][i]}",
            f"--wsrep-sst-receive-address=127.0.0.1:{self.ports['sst'][i]}",
            "--wsrep-sst-method=rsync",
            "--binlog-format=ROW",
            "--default-storage-engine=InnoDB",
            "--innodb-autoinc-lock-mode=2",
        ]
        if new_cluster:
            opts.append("--wsrep-new-cluster")
        return opts

    def command(self, i: int, new_cluster: bool = False) -> list[str]:
        s = self.servers[i]
        user = ["--user=mysql"] if os.geteuid() == 0 else []
        return [
            self.binary,
            "--no-defaults",
            f"--datadir={s.datadir}",
            f"--port={s.port}",
            "--bind-address=127.0.0.1",
            f"--socket={s.socket}",
            f"--pid-file={s.base_dir / 'mysqld.pid'}",
            *SERVER_OPTIONS,
            *self.wsrep_options(i, new_cluster),
            *user,
        ]

    def settings(self) -> dict:
        return {
            "members": 3,
            "mariadbd": " ".join(SERVER_OPTIONS),
            "wsrep": "provider libgalera_smm.so, gcomm on loopback, sst rsync, binlog ROW, autoinc lock mode 2, "
            "other provider options default (evs.suspect_timeout 5 s)",
            "api": "bench/baselines/galera_api.py: 3 APIs (API i on member gi, falls over to the next members on a "
            "refused connection), each gunicorn gthread 1 worker x 16 threads, pymysql per thread, autocommit, "
            "wsrep_sync_wait=1 (linearizable reads); writes go to API 0 (g0), reads to all three",
        }

    def start_member(self, i: int, new_cluster: bool = False) -> None:
        s = self.servers[i]
        log = open(s.log_path, "ab")
        self.procs[i] = subprocess.Popen(
            self.command(i, new_cluster),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        s.process, s.pid = self.procs[i], self.procs[i].pid
        self.wait_synced(i, 120)

    def wait_synced(self, i: int, timeout: float) -> None:
        def synced():
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"galera g{i} exited; see {self.servers[i].log_path}")
            try:
                conn = self.servers[i].root_connection()
            except pymysql.err.MySQLError:
                return False
            try:
                with conn.cursor() as cur:
                    cur.execute("SHOW STATUS LIKE 'wsrep_local_state_comment'")
                    row = cur.fetchone()
                    return row is not None and row[1] == "Synced"
            finally:
                conn.close()

        _wait(synced, timeout, f"galera g{i} synced", 0.2)

    def initialize(self) -> None:
        """One mariadb-install-db, copied to the other two (they take a state transfer when they join anyway).

        As root, the servers run as the `mysql` user: the rsync state transfer starts an rsync daemon, which
        as root would drop to `nobody` and could not write into the joiner's datadir."""
        as_root = os.geteuid() == 0
        s0 = self.servers[0]
        for server in self.servers:
            server.base_dir.mkdir(parents=True, exist_ok=True)
        if as_root:
            self._give_to_mysql()
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        result = subprocess.run(
            [
                installer,
                "--no-defaults",
                f"--datadir={s0.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--innodb-log-file-size=32M",
                *(["--user=mysql"] if as_root else []),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")
        for i in (1, 2):
            shutil.copytree(s0.datadir, self.servers[i].datadir, symlinks=True)
        if as_root:
            self._give_to_mysql()

    def _give_to_mysql(self) -> None:
        import pwd

        mysql = pwd.getpwnam("mysql")
        path = self.dir
        while path != path.parent:  # the temp dirs above must be traversable by mysql
            st = path.stat()
            if st.st_uid == 0 and (st.st_mode & 0o001) == 0:
                path.chmod(st.st_mode | 0o001)
            path = path.parent
        for root, _dirs, files in os.walk(self.dir):
            os.chown(root, mysql.pw_uid, mysql.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), mysql.pw_uid, mysql.pw_gid)

    def start(self) -> None:
        self.initialize()
        self.start_member(0, new_cluster=True)
        self.servers[0].bootstrap(self.DB, self.USER, self.PASSWORD)
        for i in (1, 2):
            self.start_member(i)
        self.start_api()

    def start_api(self) -> None:
        from .baselines.galera_api import SCHEMA

        conn = self.servers[0].root_connection(self.DB)
        with conn.cursor() as cur:
            cur.execute(SCHEMA)
        conn.close()
        for i in range(3):
            self.start_one_api(i)

    def start_one_api(self, i: int) -> None:
        """API i: member gi first, then the others in order (its failover)."""
        hosts = [f"127.0.0.1:{self.ports['mysql'][(i + k) % 3]}" for k in range(3)]
        env = dict(os.environ)
        env.update(
            {
                "GALERA_API_HOSTS": ",".join(hosts),
                "GALERA_API_USER": self.USER,
                "GALERA_API_PASSWORD": self.PASSWORD,
                "GALERA_API_DATABASE": self.DB,
                "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
            }
        )
        log = open(self.dir / f"api{i}.log", "ab")
        self.apis[i] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "python:bench.baselines.gunicorn_galera",
                "-b",
                f"127.0.0.1:{self.api_ports[i]}",
                "bench.baselines.galera_api:app",
            ],
            cwd=self.dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        url = self.api_url(i)

        def ready():
            if self.apis[i].poll() is not None:
                raise RuntimeError(f"galera API {i} exited; see {self.dir / f'api{i}.log'}")
            try:
                return requests.get(url + "/readyz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        _wait(ready, 60, f"galera API {i} ready")

    def api_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.api_ports[i]}"

    def urls(self) -> list[str]:
        """Where writes go (and the failover scenarios' load): API 0, on g0."""
        return [self.api_url(0)]

    def read_urls(self) -> list[str]:
        """Reads: every API, each on its own member, as taskraft's reads go to every node."""
        return [self.api_url(i) for i in range(3)]

    def read_keys(self) -> list[str]:
        """The ids of the tasks the writes wrote (Galera's auto-increment steps by the cluster size, so the ids
        are not 1..N)."""
        conn = self.servers[0].root_connection(self.DB)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT id FROM tasks ORDER BY id")
                return [str(r[0]) for r in cur.fetchall()]
        finally:
            conn.close()

    def leader(self) -> int:
        """The node the API writes to."""
        backends = requests.get(self.urls()[0] + "/bench/backend", timeout=5).json()["backends"]
        ports = [int(b.rpartition(":")[2]) for b in backends]
        for i, p in enumerate(self.ports["mysql"]):
            if p in ports and self.procs[i] is not None and self.procs[i].poll() is None:
                return i
        return 0

    def db_pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None and p.poll() is None]

    def cpu_groups(self) -> dict:
        return {
            "nodes": lambda: [
                p for api in self.apis if api is not None and api.poll() is None for p in group_pids(api.pid)
            ],
            "databases": self.db_pids,
        }

    def node_rss_pids(self) -> list[list[int]]:
        return [[p.pid] if p is not None and p.poll() is None else [] for p in self.procs]

    def kill(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait(10)

    def restart(self, i: int) -> None:
        self.start_member(i)

    def stop(self) -> None:
        for api in self.apis:
            if api is not None:
                _signal_group(api.pid, signal.SIGTERM)
        for api in self.apis:
            if api is not None:
                try:
                    api.wait(15)
                except subprocess.TimeoutExpired:
                    _signal_group(api.pid, signal.SIGKILL)
        for i in (2, 1, 0):
            p = self.procs[i]
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


SYSTEMS = {"taskraft": Taskraft, "etcd": Etcd, "galera": Galera}


def describe_unavailable() -> dict[str, str]:
    return {name: why for name, cls in SYSTEMS.items() if (why := cls.available())}


if __name__ == "__main__":  # quick manual check: start a system, print its URLs and leader, stop it
    import tempfile

    name = sys.argv[1] if len(sys.argv) > 1 else "etcd"
    with tempfile.TemporaryDirectory(prefix="bench-", ignore_cleanup_errors=True) as tmp:
        sysm = SYSTEMS[name](Path(tmp))
        t = time.monotonic()
        sysm.start()
        print(json.dumps({"urls": sysm.urls(), "leader": sysm.leader(), "start_s": time.monotonic() - t}))
        if len(sys.argv) > 2:
            time.sleep(float(sys.argv[2]))
        sysm.stop()
