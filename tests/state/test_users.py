"""Users and tokens in the state machine, against a real MariaDB: the ops apply deterministically from
what they carry (ids, hashes, timestamps), failures are results, and only hashes are stored."""

from __future__ import annotations

from taskraft import commands as c
from taskraft.auth.tokens import hash_token, new_token
from taskraft.state import queries, users
from taskraft.state.db import connect
from taskraft.state.machine import LogEntry, apply_entries

TS = 1_700_000_000_000
TOKEN = new_token()
HASH = hash_token(TOKEN)


def op(kind, rid, ts=TS, user="admin", **args):
    return c.make_op(kind, origin="node-a", origin_addr="node-a:7000", args=args, request_id=rid, ts_ms=ts, user=user)


def entry(index, *ops):
    return LogEntry(index, 1, c.make_entry(list(ops)))


def auth_log():
    return [
        entry(2, op(c.OP_USER_ADD, "u1", user_id="u-1", username="alice", email="a@example.org", role="editor")),
        # in one entry: a user and its token (the token's apply sees the user added just before it)
        entry(
            3,
            op(c.OP_USER_ADD, "u2", user_id="u-2", username="bob", role="viewer"),
            op(
                c.OP_TOKEN_CREATE,
                "t1",
                token_id="t-1",
                token_hash=HASH,
                name="ci",
                username="bob",
                role=None,
                expires_at=None,
            ),
        ),
        entry(
            4,
            op(
                c.OP_TOKEN_CREATE,
                "t2",
                token_id="t-2",
                token_hash=hash_token("x" * 40),
                name="n",
                username="alice",
                role="viewer",
                expires_at=TS + 60_000,
            ),
        ),
        entry(5, op(c.OP_TOKEN_REVOKE, "r1", ts=TS + 1000, token_id="t-2")),
        entry(6, op(c.OP_USER_DISABLE, "d1", ts=TS + 2000, username="bob")),
        entry(7, op(c.OP_CREATE, "k1", user="alice", title="by alice")),
        entry(8, op(c.OP_UPDATE, "k2", user="bob", task_id=1, status="done")),
    ]


def apply(conn, *entries):
    meta, results = apply_entries(conn, list(entries))
    conn.commit()
    return results


def test_two_replicas_applying_the_same_log_agree(make_db):
    sums = []
    for one_by_one in (False, True):
        conn = connect(make_db(), scripts=not one_by_one)
        if one_by_one:
            for e in auth_log():
                apply(conn, e)
        else:
            apply(conn, *auth_log())
        sums.append(queries.table_checksums(conn))
        conn.close()
    assert sums[0] == sums[1]
    assert sums[0]["users"] != sums[0]["api_tokens"]  # both tables hold rows, and are checksummed


def test_the_ops_write_what_they_carry_and_only_hashes(db):
    results = apply(db, *auth_log())
    assert results["u1"].outcome == c.CREATED and results["u1"].record["username"] == "alice"
    assert results["u1"].record["created_at"] == "2023-11-14T22:13:20.000Z"  # the op's time, not a clock
    assert results["t1"].outcome == c.CREATED and results["t1"].record["role"] == "viewer"  # the owner's role
    assert "token_hash" not in results["t1"].record
    assert results["r1"].outcome == c.UPDATED and results["r1"].record["revoked"] is True
    assert results["d1"].outcome == c.UPDATED and results["d1"].record["disabled"] is True
    with db.cursor() as cur:
        cur.execute("SELECT token_hash FROM api_tokens ORDER BY token_id")
        assert [r[0] for r in cur.fetchall()] == [HASH, hash_token("x" * 40)]
        # the token itself appears nowhere: not in the tables, not in the recorded payloads
        for table in ("api_tokens", "raft_log", "users"):
            cur.execute(f"SELECT * FROM {table}")
            assert TOKEN not in repr(cur.fetchall())
        cur.execute("SELECT acting_user FROM raft_log ORDER BY log_index, op_seq")
        assert [r[0] for r in cur.fetchall()] == ["admin"] * 6 + ["alice", "bob"]
    task = queries.get_task(db, 1)
    assert task["created_by_user"] == "alice" and task["updated_by_user"] == "bob"
    assert [e["user"] for e in queries.task_history(db, 1)] == ["alice", "bob"]
    cred = users.credential(db, HASH)
    assert cred["username"] == "bob" and cred["disabled"] is True and cred["revoked"] is False
    assert users.credential(db, hash_token("unknown")) is None


def test_failures_are_results(db):
    apply(db, *auth_log()[:2])
    results = apply(
        db,
        entry(
            10,
            op(c.OP_USER_ADD, "f1", user_id="u-9", username="alice", role="viewer"),  # name taken
            op(c.OP_USER_ADD, "f2", user_id="u-8", username="admin", role="viewer"),  # the bootstrap name
            op(c.OP_USER_ADD, "f3", user_id="u-7", username="Carol!", role="viewer"),
            op(c.OP_USER_ADD, "f4", user_id="u-6", username="carol", role="root"),
            op(
                c.OP_TOKEN_CREATE,
                "f5",
                token_id="t-5",
                token_hash=hash_token("y" * 40),
                name="n",
                username="bob",
                role="admin",
                expires_at=None,
            ),  # above the owner's role
            op(
                c.OP_TOKEN_CREATE,
                "f6",
                token_id="t-6",
                token_hash=HASH,
                name="n",
                username="alice",
                role=None,
                expires_at=None,
            ),  # hash taken
            op(
                c.OP_TOKEN_CREATE,
                "f7",
                token_id="t-7",
                token_hash="not-a-hash",
                name="n",
                username="alice",
                role=None,
                expires_at=None,
            ),
            op(
                c.OP_TOKEN_CREATE,
                "f8",
                token_id="t-8",
                token_hash=hash_token("z" * 40),
                name="n",
                username="nobody",
                role=None,
                expires_at=None,
            ),
            op(
                c.OP_TOKEN_CREATE,
                "f9",
                token_id="t-9",
                token_hash=hash_token("w" * 40),
                name="n",
                username="alice",
                role=None,
                expires_at=TS - 1,
            ),  # already expired
            op(c.OP_TOKEN_REVOKE, "f10", token_id="t-404"),
            op(c.OP_USER_DISABLE, "f11", username="nobody"),
        ),
    )
    outcomes = {rid: r.outcome for rid, r in results.items()}
    assert outcomes == {
        "f1": c.CONFLICT,
        "f2": c.CONFLICT,
        "f3": c.REJECTED,
        "f4": c.REJECTED,
        "f5": c.REJECTED,
        "f6": c.CONFLICT,
        "f7": c.REJECTED,
        "f8": c.NOT_FOUND,
        "f9": c.REJECTED,
        "f10": c.NOT_FOUND,
        "f11": c.NOT_FOUND,
    }
    assert [u["username"] for u in users.list_users(db)] == ["alice", "bob"]


def test_a_replayed_op_is_applied_once(db):
    first = apply(db, auth_log()[0])
    again = apply(
        db, entry(9, op(c.OP_USER_ADD, "u1", user_id="u-1", username="alice", email="a@example.org", role="editor"))
    )
    assert again["u1"] == first["u1"].__class__(**{**first["u1"].__dict__, "log_index": 2})
    assert len(users.list_users(db)) == 1


def test_the_backup_role_is_a_users_role_and_only_admins_and_backup_users_get_backup_tokens(db):
    def token(rid, username, role):
        return op(
            c.OP_TOKEN_CREATE,
            rid,
            token_id=rid,
            token_hash=hash_token(rid * 20),
            name=rid,
            username=username,
            role=role,
            expires_at=None,
        )

    _, results = apply_entries(
        db,
        [
            entry(
                2,
                op(c.OP_USER_ADD, "ub", user_id="u-b", username="cron", role="backup"),
                op(c.OP_USER_ADD, "ua", user_id="u-a", username="root", role="admin"),
                op(c.OP_USER_ADD, "ue", user_id="u-e", username="ed", role="editor"),
            ),
            entry(
                3,
                token("tb", "cron", None),
                token("ta", "root", "backup"),
                token("te", "ed", "backup"),
                token("tv", "cron", "viewer"),
            ),
        ],
    )
    db.commit()
    outcome = {rid: result.outcome for rid, result in results.items()}
    assert [outcome[r] for r in ("ub", "ua", "ue", "tb", "ta")] == [c.CREATED] * 5
    assert outcome["te"] == c.REJECTED  # an editor may not make a backup token
    assert outcome["tv"] == c.REJECTED  # a backup user may not make a viewer token: it reads no task
    assert {t["token_id"]: t["role"] for t in users.list_tokens(db, None)} == {"tb": "backup", "ta": "backup"}
