"""`taskraft cluster members`: list the members, add one, remove one (any node forwards to the leader).

A new member joins as a learner and the leader promotes it to voter once its log has caught up;
`add --wait` returns only then. A change asked while another is in progress (409 change_in_progress)
is asked again until the deadline.
"""

from __future__ import annotations

import json
import time

import click

from .cli_client import CommandFailed, _client, connection_options, format_table
from .client import ClientError, Conflict, Unavailable


def _members_table(view: dict) -> str:
    leader = view.get("leader")
    rows = [
        [
            m.get("node_id") or "?",
            m["raft_address"],
            m.get("membership", "voter"),
            "leader" if m["raft_address"] == leader else m.get("role", "") or "",
            m.get("match_index"),
            m.get("lag"),
            m.get("last_contact_s"),
            m.get("reachable"),
        ]
        for m in view.get("members", [])
    ]
    headers = ["node", "raft address", "membership", "role", "match index", "lag", "last contact (s)", "reachable"]
    return format_table(headers, rows)


@click.group("members", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the members as JSON.")
@connection_options
@click.pass_context
def members(ctx, as_json) -> None:
    """List the members: voter or learner (catching up), and, as the leader sees them, match index and lag."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        view = _client().members()
    except ClientError as exc:
        raise CommandFailed(exc) from None
    click.echo(json.dumps(view, indent=2) if as_json else _members_table(view))


def _change(action: str, member: str, wait: bool) -> dict:
    client = _client()
    end = time.monotonic() + client.deadline
    while True:
        try:
            answer = client.change_member(action, member)
            break
        except Conflict as exc:
            if exc.code != "change_in_progress" or time.monotonic() >= end:
                raise CommandFailed(exc) from None
            time.sleep(0.5)
        except ClientError as exc:
            raise CommandFailed(exc) from None
    while wait and action == "add":
        view = client.members()
        if any(m["raft_address"] == member and m.get("membership") == "voter" for m in view.get("members", [])):
            break
        if time.monotonic() >= end:
            raise CommandFailed(Unavailable(f"{member} was added but is not a voter yet (still catching up)"))
        time.sleep(0.5)
    return answer


@members.command("add")
@click.argument("address")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until it is promoted to voter.")
@connection_options
def members_add(address, wait) -> None:
    """Add the node whose Raft address is ADDRESS (host:port). Start it first, with the members as its peers."""
    answer = _change("add", address, wait)
    click.echo(f"added {address} at log index {answer.get('log_index')}" + (" (now a voter)" if wait else ""))


@members.command("remove")
@click.argument("node")
@connection_options
def members_remove(node) -> None:
    """Remove NODE (its node id or Raft address). The leader hands leadership off first if it is NODE."""
    answer = _change("remove", node, wait=False)
    click.echo(f"removed {answer.get('address')} at log index {answer.get('log_index')}")
