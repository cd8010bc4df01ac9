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


@main.command()
@click.option("--node-id", help="This node's id (TASKRAFT_NODE_ID).")
@click.option("--raft-bind", help="host:port the Raft server binds (TASKRAFT_RAFT_BIND).")
@click.option("--raft-advertise", help="host:port peers reach this node at (TASKRAFT_RAFT_ADVERTISE).")
@click.option("--peers", help="Comma-separated Raft addresses of all members (TASKRAFT_PEERS).")
@click.option("--http-host", help="HTTP bind host (TASKRAFT_HTTP_HOST).")
@click.option("--http-port", type=int, help="HTTP port (TASKRAFT_HTTP_PORT).")
@click.option("--mysql-dsn", help="mysql://user:password@host:port/db (TASKRAFT_MYSQL_DSN).")
@click.option("--data-dir", help="Directory for the Raft journal and snapshot (TASKRAFT_DATA_DIR).")
@click.option("--raft-secret-file", help="File holding the Raft shared secret (TASKRAFT_RAFT_SECRET_FILE).")
@click.option("--api-url", help="URL clients reach this node's API at (TASKRAFT_API_URL).")
@click.option("--insecure", is_flag=True, help="Development only: run Raft without a shared secret.")
def serve(insecure: bool, **flags) -> None:
    """Run one node under gunicorn (one worker process, threads for HTTP)."""
    for key, env in _SERVE_FLAGS.items():
        if flags.get(key) is not None:
            os.environ[f"TASKRAFT_{env}"] = str(flags[key])
    if insecure:
        os.environ["TASKRAFT_INSECURE"] = "1"
    try:
        load_config()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    os.execvp(
        sys.executable,
        [sys.executable, "-m", "gunicorn", "-c", "python:taskraft.gunicorn_conf", "taskraft.wsgi:app"],
    )


@main.group()
def cluster() -> None:
    """Run a local cluster on this machine."""


@cluster.command("up")
@click.option(
    "--data-dir", required=True, type=click.Path(file_okay=False), help="Where nodes and databases keep data."
)
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(1, 9))
@click.option("--port-base", default=8080, show_default=True, type=click.IntRange(1024, 65000))
def cluster_up(data_dir: str, nodes: int, port_base: int) -> None:
    """Start N nodes, each with its own MariaDB/MySQL server, in the foreground until Ctrl-C or SIGTERM.

    On an existing DATA_DIR the nodes keep their data; with another --nodes than before, new nodes
    join one at a time and members beyond N are removed (`cluster scale` does the same while running).
    """
    from .client import ClientError
    from .localcluster import supervisor
    from .localcluster.cluster import LocalCluster
    from .localcluster.mysqld import MySQLNotFound

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: supervisor.RESCALE.set())  # `cluster scale` asks
    try:
        local = LocalCluster(data_dir, nodes=nodes, port_base=port_base)
    except MySQLNotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"starting {nodes} nodes in {local.data_dir} ...")
    try:
        leader = supervisor.start(local, click.echo)
        click.echo("cluster ready:")
        for node in local.nodes:
            role = "leader" if node.index == leader else "follower"
            click.echo(f"  {node.node_id}  {node.url}  ({role}, raft {node.raft_address}, mysql port {node.db.port})")
        click.echo(f"cluster.json: {local.data_dir / 'cluster.json'}")
        click.echo(
            "try: curl -s -X POST -H 'Content-Type: application/json' "
            f'-d \'{{"title":"hello"}}\' {local.nodes[-1].url}/api/v1/tasks'
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


from .cli_client import register  # noqa: E402  (client commands: `taskraft tasks ...`, `taskraft cluster status`)
from .cli_members import members  # noqa: E402  (`taskraft cluster members [add|remove]`)

register(main, cluster)
cluster.add_command(members)
