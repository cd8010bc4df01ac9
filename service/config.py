"""Node configuration: one frozen object built from flags or TASKRAFT_* environment variables.

Every setting has an environment variable so the same image runs under gunicorn
(environment only) and under `taskraft serve` (flags override the environment).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, overload
from urllib.parse import parse_qs, unquote, urlparse


class ConfigError(ValueError):
    """A setting is missing or malformed; the node refuses to start."""


READ_MODES = ("read_index", "log")


@dataclass(frozen=True)
class RaftTimings:
    """PySyncObj periods, tuned for a LAN (see docs/architecture.md)."""

    auto_tick_period: float = 0.01
    append_entries_period: float = 0.02
    raft_min_timeout: float = 0.5
    raft_max_timeout: float = 1.0
    # Each node draws its election timeout from its own slice of [min, max], by its place in the peer
    # list, so two followers orphaned together rarely time out together and split the vote.
    ranked_election_timeouts: bool = True
    # After refusing a candidate whose log is behind ours, stand this soon unless a leader appears
    # (0: wait for our own election timeout). See consensus/elections.py.
    stand_after_refusing: float = 0.1
    leader_fallback_timeout: float = 2.0
    connection_timeout: float = 2.0
    connection_retry_time: float = 0.5
    dns_cache_time: float = 5.0
    dns_fail_cache_time: float = 2.0
    log_compaction_min_entries: int = 5000
    log_compaction_min_time: float = 300.0
    # Compaction leaves this many applied entries in the log, so that a follower back from a restart
    # catches up from the log instead of needing a dump of the whole database (etcd keeps 5,000 too).
    compaction_keep_entries: int = 5000
    eager_append: bool = True  # send new entries / commit index at once, not at the next heartbeat
    max_entries_in_flight: int = 2  # group commit: ops wait (and share an entry) beyond this many
    # Linearizable reads: "read_index" (a heartbeat round confirms the leader's commit index; no log
    # write, consensus/read_index.py) or "log" (a barrier entry through the log, consensus/proposals.py).
    read_mode: str = "read_index"


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP path of the one worker process (gunicorn_conf.py, wsgi.py); see docs/performance.md,
    "HTTP path: gunicorn, JSON, switch interval". Read from the environment only: gunicorn reads them
    before any flag of `taskraft serve` could matter, and `serve` passes its flags as environment."""

    threads: int = 64  # gthread request threads; a write entry holds at most this many ops
    keepalive: int = 5  # seconds an idle keep-alive connection is kept
    json: str = "msgspec"  # the JSON provider of requests and answers: "msgspec" or "stdlib" (api/json_provider.py)
    switch_interval: float = 0.0  # sys.setswitchinterval in seconds; 0: the interpreter's (0.005)

    @classmethod
    def from_env(cls) -> HttpSettings:
        json_impl = _env("HTTP_JSON", cls.json).strip().lower()
        if json_impl not in ("msgspec", "stdlib"):
            raise ConfigError(f"TASKRAFT_HTTP_JSON must be msgspec or stdlib, not {json_impl!r}")
        settings = cls(
            threads=int(_env("HTTP_THREADS", str(cls.threads))),
            keepalive=int(_env("HTTP_KEEPALIVE", str(cls.keepalive))),
            json=json_impl,
            switch_interval=float(_env("SWITCH_INTERVAL", str(cls.switch_interval))),
        )
        if settings.threads < 1 or settings.keepalive < 0 or settings.switch_interval < 0:
            raise ConfigError("TASKRAFT_HTTP_THREADS must be >= 1, KEEPALIVE and SWITCH_INTERVAL >= 0")
        return settings


@dataclass(frozen=True)
class MySQLSettings:
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "taskraft"
    password: str = ""
    database: str = "taskraft"
    unix_socket: str | None = None

    @classmethod
    def from_dsn(cls, dsn: str) -> MySQLSettings:
        """Parse `mysql://user:password@host:port/database?unix_socket=/path`."""
        parsed = urlparse(dsn)
        if parsed.scheme not in ("mysql", "mariadb"):
            raise ConfigError(f"MySQL DSN must start with mysql://, got {dsn!r}")
        sockets = parse_qs(parsed.query).get("unix_socket")
        database = parsed.path.lstrip("/") or "taskraft"
        return cls(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 3306,
            user=unquote(parsed.username or "taskraft"),
            password=unquote(parsed.password or ""),
            database=database,
            unix_socket=sockets[0] if sockets else None,
        )

    def connect_kwargs(self) -> dict:
        kwargs = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "charset": "utf8mb4",
            "autocommit": False,
            "connect_timeout": 3,
            "read_timeout": 30,
            "write_timeout": 30,
        }
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        return kwargs


@dataclass(frozen=True)
class NodeConfig:
    node_id: str
    raft_bind: str
    raft_advertise: str
    peers: tuple[str, ...]
    http_host: str
    http_port: int
    mysql: MySQLSettings
    data_dir: Path
    raft_secret: str | None
    insecure: bool = False
    request_timeout: float = 5.0
    http_threads: int = 64
    label_pod_role: bool = False
    reconcile_members: bool = False  # the leader keeps the members equal to the StatefulSet's pods (k8s_membership.py)
    force_new_cluster: str | None = None  # the node id that makes itself a cluster of one at start (recovery.py)
    restore_from: str | None = None  # a backup a brand-new node loads before Raft starts (restore.py)
    api_url: str | None = None
    pod_name: str | None = None
    pod_namespace: str | None = None
    statefulset: str | None = None
    # The cluster record (cluster_record.py): where the leader records the cluster id, and the id it held
    # when this node started (unset: no record yet, or none is kept).
    cluster_record: str | None = None
    cluster_id: str | None = None
    # TLS on the HTTP port (transport.py): this node's certificate and key, and the CA that node-to-node
    # calls verify the other members' certificates against (unset: the system's CAs).
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_ca_file: str | None = None
    # Origins allowed to call the API from a browser (CORS, web/security.py); empty: none.
    cors_origins: tuple[str, ...] = ()
    timings: RaftTimings = field(default_factory=RaftTimings)

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)

    @property
    def other_peers(self) -> tuple[str, ...]:
        return tuple(p for p in self.peers if p != self.raft_advertise)

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "raft.journal"

    @property
    def snapshot_path(self) -> Path:
        return self.data_dir / "raft.snapshot"

    @property
    def identity_path(self) -> Path:
        return self.data_dir / "raft.identity"

    def validate(self) -> NodeConfig:
        if not self.node_id:
            raise ConfigError("node id is required (--node-id / TASKRAFT_NODE_ID)")
        for name, addr in (("raft bind", self.raft_bind), ("raft advertise", self.raft_advertise)):
            _split_host_port(addr, name)
        for peer in self.peers:
            _split_host_port(peer, "peer")
        if self.raft_advertise not in self.peers:
            raise ConfigError(
                f"the advertised raft address {self.raft_advertise} must be one of the peers {list(self.peers)}"
            )
        if not self.raft_secret and not self.insecure:
            raise ConfigError(
                "no Raft secret: set TASKRAFT_RAFT_SECRET or TASKRAFT_RAFT_SECRET_FILE "
                "(or pass --insecure for a throwaway development node)"
            )
        if not (1 <= self.http_port <= 65535):
            raise ConfigError(f"invalid HTTP port {self.http_port}")
        if self.request_timeout <= 0:
            raise ConfigError("request timeout must be positive")
        if self.timings.read_mode not in READ_MODES:
            raise ConfigError(
                f"TASKRAFT_READ_MODE must be one of {', '.join(READ_MODES)}, got {self.timings.read_mode!r}"
            )
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ConfigError("TLS needs both TASKRAFT_TLS_CERT_FILE and TASKRAFT_TLS_KEY_FILE")
        for path in (self.tls_cert_file, self.tls_key_file, self.tls_ca_file):
            if path and not Path(path).is_file():
                raise ConfigError(f"TLS file {path} does not exist")
        for origin in self.cors_origins:
            if not valid_origin(origin):
                raise ConfigError(f"CORS origin must be scheme://host[:port] with no path, got {origin!r}")
        kind, _, where = (self.cluster_record or "file:x").partition(":")
        if kind not in ("file", "configmap") or not where:
            raise ConfigError(f"cluster record must be file:PATH or configmap:NAME, got {self.cluster_record!r}")
        return self


def _split_host_port(addr: str, what: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"{what} address must be host:port, got {addr!r}")
    return host, int(port)


def valid_origin(origin: str) -> bool:
    parsed = urlparse(origin)
    return (
        parsed.scheme in ("http", "https") and bool(parsed.hostname) and origin == f"{parsed.scheme}://{parsed.netloc}"
    )


def split_list(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip().rstrip("/") for item in (raw or "").split(",") if item.strip())


def statefulset_peers(
    statefulset: str, replicas: int, headless_service: str, namespace: str, cluster_domain: str, raft_port: int
) -> tuple[str, ...]:
    """Stable DNS names of every StatefulSet member: <sts>-<i>.<headless>.<ns>.svc.<domain>:<port>."""
    if replicas < 1:
        raise ConfigError("replica count must be at least 1")
    return tuple(
        f"{statefulset}-{i}.{headless_service}.{namespace}.svc.{cluster_domain}:{raft_port}" for i in range(replicas)
    )


@overload
def _env(name: str, default: str) -> str: ...
@overload
def _env(name: str, default: str | None = None) -> str | None: ...
def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"TASKRAFT_{name}")
    return value if value not in (None, "") else default


def _truthy(value: str | None) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _read_secret(secret: str | None, secret_file: str | None) -> str | None:
    if secret:
        return secret
    if secret_file:
        try:
            return Path(secret_file).read_text().strip() or None
        except OSError as exc:
            raise ConfigError(f"cannot read Raft secret file {secret_file}: {exc}") from exc
    return None


def load_config(overrides: dict | None = None) -> NodeConfig:
    """Build the node configuration from TASKRAFT_* variables, then apply explicit overrides (flags).

    Peers come from TASKRAFT_PEERS (comma-separated host:port), or, on Kubernetes, are derived from
    TASKRAFT_STATEFULSET + TASKRAFT_REPLICAS + TASKRAFT_HEADLESS_SERVICE + TASKRAFT_NAMESPACE.
    """
    # An override is a flag's value, of the type its flag parsed to (str, int, bool, path); int(), float()
    # and Path() below take either that or the environment's string.
    o: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if v is not None}

    @overload
    def pick(key: str, env: str) -> str | None: ...
    @overload
    def pick(key: str, env: str, default: str) -> str: ...
    def pick(key: str, env: str, default: str | None = None) -> str | None:
        return o[key] if key in o else _env(env, default)

    raft_port = int(pick("raft_port", "RAFT_PORT", "7000"))
    node_id = pick("node_id", "NODE_ID") or os.environ.get("POD_NAME") or ""
    statefulset = _env("STATEFULSET")
    namespace = _env("NAMESPACE") or os.environ.get("POD_NAMESPACE")
    headless = _env("HEADLESS_SERVICE")
    cluster_domain = _env("CLUSTER_DOMAIN", "cluster.local")

    peers_raw = o.get("peers") or _env("PEERS")
    if peers_raw:
        peers = tuple(
            p.strip() for p in (peers_raw.split(",") if isinstance(peers_raw, str) else peers_raw) if p.strip()
        )
    elif statefulset and headless and namespace:
        replicas = int(_env("REPLICAS", "3"))
        peers = statefulset_peers(statefulset, replicas, headless, namespace, cluster_domain, raft_port)
    else:
        peers = ()

    advertise = pick("raft_advertise", "RAFT_ADVERTISE")
    if not advertise and statefulset and headless and namespace and node_id:
        advertise = f"{node_id}.{headless}.{namespace}.svc.{cluster_domain}:{raft_port}"
    advertise = advertise or f"127.0.0.1:{raft_port}"
    if not peers:
        peers = (advertise,)
    bind = pick("raft_bind", "RAFT_BIND") or f"0.0.0.0:{advertise.rpartition(':')[2]}"

    dsn = pick("mysql_dsn", "MYSQL_DSN", "mysql://taskraft@127.0.0.1:3306/taskraft")
    mysql = MySQLSettings.from_dsn(dsn)
    mysql_password_file = _env("MYSQL_PASSWORD_FILE")
    if mysql_password_file and not mysql.password:
        mysql = replace(mysql, password=Path(mysql_password_file).read_text().strip())

    timings = RaftTimings()
    timing_overrides: dict[str, Any] = {}
    for fld in RaftTimings.__dataclass_fields__:
        raw = _env(fld.upper())
        if raw is not None:
            kind = type(getattr(timings, fld))
            timing_overrides[fld] = _truthy(raw) if kind is bool else kind(raw)
    if "dns_cache_time" in o:
        timing_overrides["dns_cache_time"] = float(o["dns_cache_time"])
    timings = replace(timings, **timing_overrides)

    insecure = bool(o["insecure"]) if "insecure" in o else _truthy(_env("INSECURE"))
    cfg = NodeConfig(
        node_id=node_id,
        raft_bind=bind,
        raft_advertise=advertise,
        peers=peers,
        http_host=pick("http_host", "HTTP_HOST", "0.0.0.0"),
        http_port=int(pick("http_port", "HTTP_PORT", "8080")),
        mysql=mysql,
        data_dir=Path(pick("data_dir", "DATA_DIR", "./data")),
        raft_secret=_read_secret(pick("raft_secret", "RAFT_SECRET"), pick("raft_secret_file", "RAFT_SECRET_FILE")),
        insecure=insecure,
        request_timeout=float(pick("request_timeout", "REQUEST_TIMEOUT", "5")),
        http_threads=int(pick("http_threads", "HTTP_THREADS", "64")),
        label_pod_role=_truthy(_env("LABEL_POD_ROLE")),
        reconcile_members=_truthy(_env("RECONCILE_MEMBERS")),
        force_new_cluster=_env("FORCE_NEW_CLUSTER"),
        restore_from=_env("RESTORE_FROM"),
        api_url=pick("api_url", "API_URL"),
        pod_name=os.environ.get("POD_NAME"),
        pod_namespace=namespace,
        statefulset=statefulset,
        cluster_record=pick("cluster_record", "CLUSTER_RECORD"),
        cluster_id=pick("cluster_id", "CLUSTER_ID"),
        tls_cert_file=pick("tls_cert_file", "TLS_CERT_FILE"),
        tls_key_file=pick("tls_key_file", "TLS_KEY_FILE"),
        tls_ca_file=pick("tls_ca_file", "TLS_CA_FILE"),
        cors_origins=split_list(pick("cors_origins", "CORS_ORIGINS")),
        timings=timings,
    )
    return cfg.validate()
