"""GET /api/v1/backup against the in-memory node: the stream is a valid backup, who may take one, the errors."""

from __future__ import annotations

import io

import pytest

from taskraft.api.app import create_app
from taskraft.auth.settings import AuthConfigError, AuthSettings
from taskraft.auth.tokens import hash_token, new_token
from taskraft.state import backup_format as fmt

from .memory_node import MemoryNode
from .unit_helpers import error_of, seed_task

ADMIN, BACKUP = new_token(), new_token()


def _app(node: MemoryNode, **env):
    settings = AuthSettings.from_env({"TASKRAFT_ADMIN_TOKEN": ADMIN, "TASKRAFT_BACKUP_TOKEN": BACKUP, **env})
    return create_app(node, settings).test_client()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _user_token(node: MemoryNode, token: str, role: str, user_role: str) -> None:
    node.credentials[hash_token(token)] = {
        "token_hash": hash_token(token),
        "token_id": f"t-{role}",
        "role": role,
        "expires_at": None,
        "revoked": False,
        "user_id": "u-1",
        "username": "bo",
        "user_role": user_role,
        "disabled": False,
    }


def test_the_answer_is_a_backup_file_with_its_index_in_the_headers():
    node = MemoryNode()
    for i in range(3):
        seed_task(node, f"t{i}")
    answer = _app(node).get("/api/v1/backup", headers=_bearer(ADMIN))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/vnd.taskraft.backup+gzip"
    assert answer.headers["X-Taskraft-Backup-Index"] == str(node.log_index) == "3"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="taskraft-20260101T000000Z-i3.backup"'
    assert answer.headers["Cache-Control"] == "no-store"
    *_, (kind, info) = fmt.read(io.BytesIO(answer.get_data()))
    assert kind == "end" and info.tasks == 3 and info.applied_index == 3


def test_the_backup_role_takes_backups_and_nothing_else():
    node = MemoryNode()
    client = _app(node)
    assert client.get("/api/v1/backup", headers=_bearer(BACKUP)).status_code == 200
    for method, path in (("GET", "/api/v1/tasks"), ("POST", "/api/v1/tasks"), ("GET", "/api/v1/users")):
        error_of(client.open(path, method=method, headers=_bearer(BACKUP), json={"title": "x"}), 403, "forbidden")
    assert client.get("/api/v1/whoami", headers=_bearer(BACKUP)).get_json()["role"] == "backup"


@pytest.mark.parametrize(
    ("role", "user_role", "status"),
    [
        ("viewer", "viewer", 403),
        ("editor", "editor", 403),
        ("admin", "admin", 200),
        ("backup", "admin", 200),
        ("backup", "backup", 200),
        ("admin", "backup", 200),
    ],
)
def test_who_may_take_a_backup(role, user_role, status):
    node = MemoryNode()
    token = new_token()
    _user_token(node, token, role, user_role)
    answer = _app(node).get("/api/v1/backup", headers=_bearer(token))
    assert answer.status_code == status
    if status == 403:
        assert "admin" in error_of(answer, 403, "forbidden")["message"]


def test_no_token_is_401_and_a_short_backup_token_stops_the_node():
    error_of(_app(MemoryNode()).get("/api/v1/backup"), 401, "unauthenticated")
    with pytest.raises(AuthConfigError, match="backup token"):
        AuthSettings.from_env({"TASKRAFT_BACKUP_TOKEN": "short"})


def test_without_a_quorum_a_linearizable_backup_is_503_before_any_byte_but_a_local_one_is_served():
    node = MemoryNode()
    node.quorum = False
    client = _app(node)
    error_of(client.get("/api/v1/backup", headers=_bearer(ADMIN)), 503, "no_quorum")
    local = client.get("/api/v1/backup?consistency=local", headers=_bearer(ADMIN))
    assert local.status_code == 200
    assert fmt.read(io.BytesIO(local.get_data())).__next__()[1]["consistency"] == "local"


def test_a_bad_consistency_is_400():
    error_of(
        _app(MemoryNode()).get("/api/v1/backup?consistency=eventual", headers=_bearer(ADMIN)), 400, "invalid_request"
    )
