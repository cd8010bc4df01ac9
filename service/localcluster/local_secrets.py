"""A local cluster's secrets, made once and kept in its data dir with mode 0600: the Raft secret, the
MySQL password and the admin API token."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from ..auth.tokens import new_token
from ..durable import write_file_durably


def load_secrets(data_dir: Path) -> dict:
    """secrets.json (made on first use), and raft.secret beside it for the nodes' TASKRAFT_RAFT_SECRET_FILE."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secrets.json"
    if path.exists():
        data = json.loads(path.read_text())
    else:
        data = {"raft_secret": secrets.token_urlsafe(32), "mysql_password": secrets.token_urlsafe(18)}
        write_file_durably(str(path), json.dumps(data).encode())  # 0600 from the start
    secret_file = data_dir / "raft.secret"
    if not secret_file.exists() or secret_file.read_text() != data["raft_secret"]:
        write_file_durably(str(secret_file), data["raft_secret"].encode())
    return data


def load_admin_token(path: Path) -> tuple[str, bool]:
    """The admin token kept at `path`, and whether it was made now (TASKRAFT_ADMIN_TOKEN, else a new one)."""
    if path.exists():
        return path.read_text().strip(), False
    token = os.environ.get("TASKRAFT_ADMIN_TOKEN") or new_token()
    write_file_durably(str(path), token.encode())  # 0600 from the start
    return token, True
