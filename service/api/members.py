"""Membership routes: list the members, add one (as a learner, promoted once caught up), remove one."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .node_access import deadline, node
from .port import FORWARDED_HEADER
from .validation import MemberAdd, parse_body

bp = Blueprint("members", __name__)


@bp.get("/api/v1/cluster/members")
def list_members():
    view = node().cluster_view()
    return jsonify({"leader": view.get("leader"), "members": view.get("nodes", [])})


@bp.post("/api/v1/cluster/members")
def add_member():
    body = parse_body(request, MemberAdd)  # {"address": "host:port"}, the new member's Raft address
    port = node()
    status, answer = port.change_members(
        "add", body.address, deadline=deadline(), forwarded=request.headers.get(FORWARDED_HEADER) == "1"
    )
    return jsonify(answer), status


@bp.delete("/api/v1/cluster/members/<path:member>")
def remove_member(member: str):
    port = node()
    status, answer = port.change_members(
        "remove", member, deadline=deadline(), forwarded=request.headers.get(FORWARDED_HEADER) == "1"
    )
    return jsonify(answer), status
