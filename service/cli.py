"""The `taskraft` command: run a node, run a local cluster."""

from __future__ import annotations

import os
import signal
import sys
import threading

import click
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from . import __version__
from .config import ConfigError, load_config

# flag name -> TASKRAFT_* variable it sets for the node
_SERVE_FLAGS = {
    "node_id": "NODE_ID",
    "raft_bind": "RAFT_BIND",
    "raft_advertise": "RAFT_ADVERTISE",
    "peers": "PEERS",
    "http_host": "HTTP_HOST",
    "http_port": "HTTP_PORT",
    "mysql_dsn": "MYSQL_DSN",
    "data_dir": "DATA_DIR",
    "raft_secret_file": "RAFT_SECRET_FILE",
    "api_url": "API_URL",
}


@click.group()
@click.version_option(__version__, prog_name="taskraft")
def main() -> None:
    """taskraft: a replicated task service (Raft + one MySQL per replica)."""


def _node_flags(f):
    """The options of one node (also TASKRAFT_* variables), shared by `serve` and `recover`."""
    for option in reversed(_NODE_OPTIONS):
        f = option(f)
    return f


_NODE_OPTIONS = [
    click.option("--node-id", help="This node's id (TASKRAFT_NODE_ID)."),
    click.option("--raft-bind", help="host:port the Raft server binds (TASKRAFT_RAFT_BIND)."),
    click.option("--raft-advertise", help="host:port peers reach this node at (TASKRAFT_RAFT_ADVERTISE)."),
    click.option("--peers", help="Comma-separated Raft addresses of all members (TASKRAFT_PEERS)."),
    click.option("--http-host", help="HTTP bind host (TASKRAFT_HTTP_HOST)."),
    click.option("--http-port", type=int, help="HTTP port (TASKRAFT_HTTP_PORT)."),
    click.option("--mysql-dsn", help="mysql://user:password@host:port/db (TASKRAFT_MYSQL_DSN)."),
    click.option("--data-dir", help="Directory for the Raft journal and snapshot (TASKRAFT_DATA_DIR)."),
    click.option("--raft-secret-file", help="File holding the Raft shared secret (TASKRAFT_RAFT_SECRET_FILE)."),
    click.option("--api-url", help="URL clients reach this node's API at (TASKRAFT_API_URL)."),
    click.option("--insecure", is_flag=True, help="Development only: run Raft without a shared secret."),
]


def _apply_node_flags(insecure: bool, flags: dict):
    for key, env in _SERVE_FLAGS.items():
        if flags.get(key) is not None:
            os.environ[f"TASKRAFT_{env}"] = str(flags[key])
    if insecure:
        os.environ["TASKRAFT_INSECURE"] = "1"
    try:
        return load_config()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@main.command()
@_node_flags
def serve(insecure: bool, **flags) -> None:
    """Run one node under gunicorn (one worker process, threads for HTTP)."""
    _apply_node_flags(insecure, flags)
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "gunicorn", "-c", "python:taskraft.gunicorn_conf", "taskraft.wsgi:app"],
    )


@main.command()
@click.option("--force-new-cluster", is_flag=True, required=True, help="Make this node a cluster of one.")
@_node_flags
def recover(force_new_cluster: bool, insecure: bool, **flags) -> None:
    """Recover from a lost majority: make this STOPPED node the only voter, with all of its data.

    Refused while a quorum of its configuration answers. Then start the node, and add the other
    members back empty (wipe them first): docs/operations.md, "A majority is lost for good".
    """
    from .recovery import RecoveryRefused
    from .recovery import force_new_cluster as recover_node

    cfg = _apply_node_flags(insecure, flags)
    if recovery_port_busy(cfg.raft_bind):
        raise click.ClickException(f"something listens on {cfg.raft_bind}: stop this node before recovering it")
    try:
        done = recover_node(cfg)
    except RecoveryRefused as exc:
        raise click.ClickException(str(exc)) from None
    state = "already was" if done.already else "is now"
    click.echo(
        f"{cfg.raft_advertise} {state} the only voter (its log ends at index {done.last_index}, term "
        f"{done.last_term}). Start it, then add the others back empty: taskraft cluster members add ADDRESS"
    )


def recovery_port_busy(bind: str) -> bool:
    import socket

    host, _, port = bind.rpartition(":")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host or "0.0.0.0", int(port)))
            return False
        except OSError:
            return True


@main.group()
def cluster() -> None:
    """Run a local cluster on this machine."""


@cluster.command("up")
@click.option(
    "--data-dir", required=True, type=click.Path(file_okay=False), help="Where nodes and databases keep data."
)
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 9))
@click.option("--port-base", default=8080, show_default=True, type=click.IntRange(1024, 65000))
@click.option(
    "--tls/--no-tls",
    default=None,
    help="HTTPS on the nodes' HTTP ports, with a CA and certificates made once in DATA_DIR/tls "
    "(default: as the last start of DATA_DIR, else off).",
)
@click.option(
    "--restore",
    "restore_from",
    type=click.Path(dir_okay=False),
    help="Start a new cluster from this backup (DATA_DIR must be empty or new): `taskraft restore` and up in one.",
)
def cluster_up(data_dir: str, nodes: int, port_base: int, tls: bool | None, restore_from: str | None) -> None:
    """Start N nodes, each with its own MariaDB/MySQL server, in the foreground until Ctrl-C or SIGTERM.

    On an existing DATA_DIR the nodes keep their data; with another --nodes than before, new nodes
    join one at a time and members beyond N are removed (`cluster scale` does the same while running).
    """
    from .client import ClientError
    from .localcluster import supervisor
    from .localcluster.cluster import LocalCluster
    from .localcluster.mysqld import MySQLNotFound

    if restore_from is not None:
        from .localcluster.restore_dir import RestoreRefused, prepare

        try:
            prepare(restore_from, data_dir)
        except RestoreRefused as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"restoring {restore_from} into a new cluster in {data_dir}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: supervisor.RESCALE.set())  # `cluster scale` asks
    try:
        local = LocalCluster(data_dir, nodes=nodes, port_base=port_base, tls=_tls_as_before(data_dir, tls))
    except MySQLNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"starting {nodes} nodes in {local.data_dir} ...")
    try:
        leader = supervisor.start(local, click.echo)
        click.echo("cluster ready:")
        for node in local.nodes:
            role = "leader" if node.index == leader else "follower"
            click.echo(f"  {node.node_id}  {node.url}  ({role}, raft {node.raft_address}, mysql port {node.db.port})")
        if local.tls:
            click.echo(f"CA: {local.verify} (taskraft --ca-file, curl --cacert; --data-dir finds it)")
        click.echo(f"cluster.json: {local.data_dir / 'cluster.json'}")
        if local.admin_token_created:  # shown this once; it stays in the file
            click.echo(f"admin token (shown once, kept in {local.admin_token_path}, mode 0600): {local.admin_token}")
        cacert = f"--cacert {local.verify} " if local.tls else ""
        click.echo(
            f'try: curl -s {cacert}-H "Authorization: Bearer $(cat {local.admin_token_path})" -X POST'
            f" -H 'Content-Type: application/json' -d '{{\"title\":\"hello\"}}' {local.nodes[-1].url}/api/v1/tasks"
        )
        click.echo("Ctrl-C (or `taskraft cluster down --data-dir ...`) stops everything; data is kept.")
        supervisor.serve(local, stop, click.echo, lambda message: click.echo(message, err=True))
    except (TimeoutError, RuntimeError, ClientError) as exc:
        click.echo(f"error: {exc}", err=True)
        local.stop()
        sys.exit(1)
    click.echo("stopping ...")
    local.stop()
    click.echo("stopped")


@cluster.command("scale")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--nodes", required=True, type=click.IntRange(1, 9), help="The number of voters wanted.")
@click.option("--timeout", default=600, show_default=True, type=int)
def cluster_scale(data_dir: str, nodes: int, timeout: int) -> None:
    """Grow or shrink the running local cluster of DATA_DIR, one member at a time.

    Growing starts each new node empty, adds it as a learner and waits for its promotion; shrinking
    removes the highest-numbered members, then stops them and sets their data aside.
    """
    from .localcluster import supervisor

    try:
        answer = supervisor.request_scale(data_dir, nodes, timeout)
    except (OSError, ValueError, RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    if answer.get("state") != "done":
        raise click.ClickException(f"scaling failed: {answer.get('message')}")
    click.echo(f"cluster scaled to {answer.get('message')}")


@cluster.command("recover")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--node", "node_id", required=True, help="The surviving node to recover from (node-<i>).")
def cluster_recover(data_dir: str, node_id: str) -> None:
    """After losing a majority for good: make NODE a cluster of one (the cluster must be down).

    The other nodes' data is set aside; `taskraft cluster up --data-dir DIR --nodes N` then adds them
    back empty, one at a time.
    """
    from .localcluster import supervisor
    from .localcluster.cluster import LocalCluster, read_manifest
    from .recovery import RecoveryRefused
    from .recovery import force_new_cluster as recover_node

    count = len(read_manifest(data_dir).get("nodes", []))
    port_base = int(read_manifest(data_dir).get("port_base", 8080))
    local = LocalCluster(data_dir, nodes=max(count, 1), port_base=port_base, tls=_tls_as_before(data_dir, None))
    chosen = next((n for n in local.nodes if n.node_id == node_id), None)
    if chosen is None:
        raise click.ClickException(f"no node {node_id} in {data_dir}")
    if recovery_port_busy(f"{chosen.bind_host}:{chosen.raft_port}"):
        raise click.ClickException(f"{node_id} is running: `taskraft cluster down --data-dir {data_dir}` first")
    os.environ.update(local.node_env(chosen.index))
    try:
        done = recover_node(load_config())
    except RecoveryRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{node_id} is the only voter (log up to index {done.last_index}, term {done.last_term})")
    supervisor.set_aside(local.data_dir, 0, click.echo, keep=chosen.index)
    click.echo(f"next: taskraft cluster up --data-dir {data_dir} --nodes {max(count, 1)}")


@cluster.command("down")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--timeout", default=60, show_default=True, type=int)
def cluster_down(data_dir: str, timeout: int) -> None:
    """Stop a local cluster started in the background."""
    from .localcluster.cluster import read_manifest

    try:
        manifest = read_manifest(data_dir)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"no cluster.json in {data_dir}: {exc}") from None
    pid = manifest.get("supervisor_pid")
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        Retrying(
            retry=retry_if_result(bool),
            wait=wait_fixed(0.2),
            stop=stop_after_delay(timeout),
            retry_error_callback=lambda _state: None,
        )(lambda: _alive(pid))
    for node in manifest.get("nodes", []):  # anything the supervisor left behind
        for key in ("pid", "db_pid"):
            if node.get(key) and _alive(node[key]):
                os.kill(node[key], signal.SIGTERM)
    click.echo("cluster stopped")


def _tls_as_before(data_dir: str, tls: bool | None) -> bool:
    """--tls/--no-tls as given, else as the data dir's last start recorded it (its CA in cluster.json)."""
    if tls is not None:
        return tls
    from .client_tls import ca_file_from_data_dir

    return ca_file_from_data_dir(data_dir) is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie (exited, not yet reaped by its parent) counts as stopped
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


from .cli_backup import backup, restore  # noqa: E402  (`taskraft backup [verify]`, `taskraft restore`)
from .cli_client import register  # noqa: E402  (client commands: `taskraft tasks ...`, `taskraft cluster status`)
from .cli_members import members  # noqa: E402  (`taskraft cluster members [add|remove]`)
from .cli_users import tokens, users  # noqa: E402  (`taskraft users ...`, `taskraft tokens ...`)

register(main, cluster)
cluster.add_command(members)
main.add_command(users)
main.add_command(backup)
main.add_command(restore)
main.add_command(tokens)
