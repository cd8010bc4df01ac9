"""Configuration changes in the state machine: the same rule as on append (taskraft/configuration.py)."""

from __future__ import annotations

from taskraft import commands as c
from taskraft.state import queries
from taskraft.state.db import connect

from .test_machine import apply, entry, op


def configure(rid, voters, learners=(), *, term, base, origin="node-a"):
    configuration = {"voters": sorted(voters), "learners": sorted(learners)}
    return op(c.OP_CONFIGURE, rid=rid, origin=origin, configuration=configuration, term=term, base=base)


def members(conn) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute("SELECT raft_address, member_role FROM members")
        return dict(cur.fetchall())


def test_effective_changes_set_the_members_and_inert_ones_are_recorded(db):
    a, b, d = "node-a:7000", "node-b:7000", "node-d:7000"
    meta, results = apply(
        db,
        entry(2, configure("seed", [a, b], term=1, base=0)),
        entry(3, op(c.OP_CREATE, rid="t", title="x")),  # registers node-a at node-a:7000
        entry(4, configure("add-d", [a, b], [d], term=1, base=2)),
        entry(5, configure("stale-base", [a], term=1, base=2)),  # a second change on base 2: inert
        entry(6, configure("other-term", [a, b, d], term=1, base=4), term=2),  # validated in term 1: inert
    )
    assert meta.config_index == 4
    assert [results[r].outcome for r in ("seed", "add-d", "stale-base", "other-term")] == [
        c.CONFIGURED,
        c.CONFIGURED,
        c.NOT_EFFECTIVE,
        c.NOT_EFFECTIVE,
    ]
    assert members(db) == {a: "voter", b: "voter", d: "learner"}
    with db.cursor() as cur:
        cur.execute("SELECT member_role FROM nodes WHERE node_id = 'node-a'")
        assert cur.fetchone()[0] == "voter"
    _, later = apply(db, entry(7, configure("promote-d", [a, b, d], term=2, base=4), term=2))
    assert later["promote-d"].outcome == c.CONFIGURED
    assert members(db) == {a: "voter", b: "voter", d: "voter"}


def test_one_at_a_time_or_all_together_gives_the_same_members(make_db):
    a, b = "node-a:7000", "node-b:7000"
    log = [
        entry(2, configure("s", [a], term=1, base=0)),
        entry(3, configure("l", [a], [b], term=1, base=2)),
        entry(4, configure("v", [a, b], term=1, base=3)),
    ]
    one, two = connect(make_db(), scripts=False), connect(make_db(), scripts=True)
    for e in log:
        apply(one, e)
    apply(two, *log)
    assert members(one) == members(two) == {a: "voter", b: "voter"}
    assert queries.table_checksums(one) == queries.table_checksums(two)
    one.close(), two.close()
