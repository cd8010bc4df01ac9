"""Client commands of `taskraft`: `taskraft tasks ...` and `taskraft cluster status`.

Exit codes: 0 ok; 1 usage (bad arguments, or the API answered 400); 2 not found or conflict
(404, 412 stale version, 422 idempotency key reused); 3 cluster unavailable (no node answered);
4 not allowed (401 no or bad token, 403 role too low, 429 too many failed authentications).
"""

from __future__ import annotations

import json
import sys
import time

import click

from .api.models import STATUSES, Task
from .client import Client, ClientError, Unavailable

EXIT_OK, EXIT_USAGE, EXIT_NOT_FOUND_OR_CONFLICT, EXIT_UNAVAILABLE = 0, 1, 2, 3

_META_URLS = "taskraft.urls"
_META_DATA_DIR = "taskraft.data_dir"
_META_DEADLINE = "taskraft.deadline"
_META_CA_FILE = "taskraft.ca_file"
_META_TOKEN = "taskraft.token"


class CommandFailed(click.ClickException):
    """A ClientError shown as `Error: ...` with the exit code of its kind."""

    def __init__(self, exc: ClientError):
        code = f" ({exc.status} {exc.code})" if exc.status else ""
        super().__init__(f"{exc.message}{code}")
        # click declares exit_code a class attribute; the one a failure exits with depends on its kind.
        self.exit_code = exc.exit_code  # type: ignore[misc]


# -- connection options: accepted on the `tasks` group, on each tasks command and on `cluster status` --


def _store_urls(ctx, _param, value):
    if value:
        ctx.find_root().meta.setdefault(_META_URLS, []).extend(value)


def _store_data_dir(ctx, _param, value):
    if value:
        ctx.find_root().meta[_META_DATA_DIR] = value


def _store_ca_file(ctx, _param, value):
    if value:
        ctx.find_root().meta[_META_CA_FILE] = value


def _store_deadline(ctx, _param, value):
    if value is not None:
        ctx.find_root().meta[_META_DEADLINE] = value


def _store_token(ctx, _param, value):
    if value:
        ctx.find_root().meta[_META_TOKEN] = value


def connection_options(f):
    f = click.option(
        "--ca-file",
        type=click.Path(dir_okay=False, exists=True),
        expose_value=False,
        callback=_store_ca_file,
        help="CA bundle to verify https nodes with (default: $TASKRAFT_CA_FILE, a --data-dir's CA, the system's).",
    )(f)
    f = click.option(
        "--token",
        expose_value=False,
        callback=_store_token,
        help="API token (default: $TASKRAFT_TOKEN, else the admin token of --data-dir's local cluster).",
    )(f)
    f = click.option(
        "--timeout",
        type=click.FloatRange(0.5, 3600),
        expose_value=False,
        callback=_store_deadline,
        help="Give up after this many seconds in all (default 30).",
    )(f)
    f = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        expose_value=False,
        callback=_store_data_dir,
        help="A local cluster's data dir: node URLs come from its cluster.json.",
    )(f)
    f = click.option(
        "--url",
        multiple=True,
        expose_value=False,
        callback=_store_urls,
        help="A node's base URL; repeat for failover (default: $TASKRAFT_URL, comma-separated).",
    )(f)
    return f


def _client() -> Client:
    meta = click.get_current_context().find_root().meta
    try:
        return Client.from_options(
            meta.get(_META_URLS, ()),
            meta.get(_META_DATA_DIR),
            ca_file=meta.get(_META_CA_FILE),
            token=meta.get(_META_TOKEN),
            deadline=meta.get(_META_DEADLINE) or 30.0,
        )
    except ClientError as exc:
        raise CommandFailed(exc) from None


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ClientError as exc:
        raise CommandFailed(exc) from None


# -- output --------------------------------------------------------------------------------------


def _emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def format_table(headers: list[str], rows: list[list]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _task_lines(task: dict) -> str:
    keys = list(Task.model_fields)  # the fields the API document gives a task
    width = max(len(k) for k in keys)
    return "\n".join(f"{k.ljust(width)}  {task.get(k, '')}" for k in keys)


_status_choice = click.Choice(STATUSES)


# -- tasks -----------------------------------------------------------------------------------------


@click.group("tasks")
@connection_options
def tasks() -> None:
    """Create, list, change and delete tasks (any node; fails over to the others)."""


@tasks.command("list")
@click.option("--status", type=_status_choice, help="Only tasks with this status.")
@click.option("--limit", type=click.IntRange(1), help="At most this many tasks (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of tasks.")
@connection_options
def tasks_list(status, limit, as_json) -> None:
    """List tasks, oldest first."""
    client = _client()

    def collect():
        out = []
        for task in client.iter_tasks(status=status, page_size=min(limit or 500, 500)):
            out.append(task)
            if limit and len(out) >= limit:
                break
        return out

    items = _call(collect)
    if as_json:
        _emit_json(items)
        return
    if not items:
        click.echo("no tasks")
        return
    click.echo(
        format_table(
            ["id", "status", "version", "title", "updated_at"],
            [[t["id"], t["status"], t["version"], t["title"], t["updated_at"]] for t in items],
        )
    )


@tasks.command("add")
@click.argument("title")
@click.option("--description", "-d", help="A longer description.")
@click.option("--status", type=_status_choice, help="Initial status (default todo).")
@click.option("--json", "as_json", is_flag=True, help="Print the created task as JSON.")
@connection_options
def tasks_add(title, description, status, as_json) -> None:
    """Create a task."""
    task = _call(_client().create_task, title, description=description, status=status)
    if as_json:
        _emit_json(task)
    else:
        click.echo(f"created task {task['id']} ({task['status']}, version {task['version']}): {task['title']}")


@tasks.command("show")
@click.argument("task_id", type=click.IntRange(1), metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the task as JSON.")
@connection_options
def tasks_show(task_id, as_json) -> None:
    """Show one task."""
    task = _call(_client().get_task, task_id)
    _emit_json(task) if as_json else click.echo(_task_lines(task))


@tasks.command("set")
@click.argument("task_id", type=click.IntRange(1), metavar="ID")
@click.option("--status", type=_status_choice, help="Move the task to this status.")
@click.option("--title", help="New title.")
@click.option("--description", "-d", help="New description.")
@click.option(
    "--if-version", type=click.IntRange(1), help="Only change the task if it is still at this version (else exit 2)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the changed task as JSON.")
@connection_options
def tasks_set(task_id, status, title, description, if_version, as_json) -> None:
    """Change a task's status, title or description."""
    if status is None and title is None and description is None:
        raise click.UsageError("nothing to change: give --status, --title and/or --description")
    task = _call(
        _client().update_task, task_id, if_match=if_version, status=status, title=title, description=description
    )
    if as_json:
        _emit_json(task)
    else:
        click.echo(f"task {task['id']} is now version {task['version']} ({task['status']}): {task['title']}")


@tasks.command("rm")
@click.argument("task_id", type=click.IntRange(1), metavar="ID")
@click.option(
    "--if-version", type=click.IntRange(1), help="Only delete the task if it is still at this version (else exit 2)."
)
@connection_options
def tasks_rm(task_id, if_version) -> None:
    """Delete a task."""
    _call(_client().delete_task, task_id, if_match=if_version)
    click.echo(f"deleted task {task_id}")


@tasks.command("history")
@click.argument("task_id", type=click.IntRange(1), metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@connection_options
def tasks_history(task_id, as_json) -> None:
    """Show the Raft log entries that changed a task, oldest first."""
    hist = _call(_client().history, task_id)
    if as_json:
        _emit_json(hist)
        return
    click.echo(
        format_table(
            ["log index", "term", "op", "origin", "outcome", "applied at", "payload"],
            [
                [
                    e.get("log_index"),
                    e.get("term"),
                    e.get("op"),
                    e.get("origin_node"),
                    e.get("outcome"),
                    e.get("applied_at"),
                    json.dumps(e.get("payload"), ensure_ascii=False),
                ]
                for e in hist["entries"]
            ],
        )
    )


# -- cluster status ------------------------------------------------------------------------------


def _seconds(value) -> str | None:
    return f"{value:.1f}s" if isinstance(value, int | float) and not isinstance(value, bool) else None


def _status_table(rows: list[dict]) -> str:
    return format_table(
        ["node", "url", "role", "term", "commit index", "applied index", "lag", "contact", "reachable"],
        [
            [
                r["node_id"] or "?",
                r["url"],
                r["role"],
                r["term"],
                r["commit_index"],
                r["last_applied"],
                r["lag"],
                _seconds(r.get("last_contact_s")),
                r["reachable"],
            ]
            for r in rows
        ],
    )


@click.command("status")
@click.option("--watch", "-w", is_flag=True, help="Refresh every --interval seconds until Ctrl-C.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.1, 3600))
@click.option("--count", type=click.IntRange(1), help="With --watch: stop after this many refreshes.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON (one document per refresh).")
@connection_options
def cluster_status(watch, interval, count, as_json) -> None:
    """One row per member: role, term, commit index, applied index, lag, last contact, reachable.

    One node is enough (a Service or a port-forward will do): it asks every member for its own view
    over the cluster's network. CONTACT is the seconds since the leader last heard from the member.
    Exits 3 if no node answers.
    """
    client = _client()
    shown = 0
    while True:
        rows = client.cluster_status()
        answered = any(r["reachable"] for r in rows)
        if as_json:
            click.echo(
                json.dumps({"nodes": rows, "time": time.time()}, ensure_ascii=False, indent=None if watch else 2)
            )
        else:
            if watch and sys.stdout.isatty():
                click.clear()
            leaders = sorted({r["leader"] for r in rows if r.get("leader")})
            header = f"leader: {', '.join(leaders) if leaders else 'none'}"
            if watch:
                header += f"   ({time.strftime('%H:%M:%S')}, every {interval:g}s, Ctrl-C stops)"
            click.echo(header)
            click.echo(_status_table(rows))
            if watch:
                click.echo("")
        shown += 1
        if not watch:
            if not answered:
                raise CommandFailed(Unavailable("no node answered"))
            return
        if count and shown >= count:
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


# -- wiring into the `taskraft` group --------------------------------------------------------------


def _usage_exits_1(group: click.Group) -> None:
    """Make click usage errors exit 1 instead of click's default 2 (2 means not found/conflict here).

    Only the exit code changes: standalone mode still prints usage and messages as click does, and
    every other command (serve, cluster up/down) behaves as before.
    """
    original_main = group.main

    def main(args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return original_main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = original_main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.exceptions.Exit as exc:  # not raised with standalone_mode=False, kept for safety
            sys.exit(exc.exit_code)
        # standalone_mode=False returns the exit code of ctx.exit()/--help/--version as an int
        sys.exit(rv if isinstance(rv, int) else 0)

    group.main = main  # type: ignore[method-assign]  # wraps this one group instance (see the docstring)


def register(main: click.Group, cluster: click.Group) -> None:
    main.add_command(tasks)
    cluster.add_command(cluster_status)
    _usage_exits_1(main)
