"""Where a client's nodes and token come from: --url, --data-dir (a local cluster's files), the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .client_errors import UsageError


def urls_from_data_dir(data_dir) -> list[str]:
    path = Path(data_dir) / "cluster.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return [n["url"] for n in manifest.get("nodes", []) if n.get("url")]


def resolve_token(token=None, data_dir=None, env=None) -> str | None:
    """The API token: the one given, else TASKRAFT_TOKEN, else a local cluster's DIR/admin-token."""
    env = os.environ if env is None else env
    if token:
        return str(token).strip()
    if env.get("TASKRAFT_TOKEN"):
        return env["TASKRAFT_TOKEN"].strip()
    if data_dir:
        try:
            return (Path(data_dir) / "admin-token").read_text().strip() or None
        except OSError:
            return None
    return None


def resolve_urls(urls=(), data_dir=None, env=None) -> list[str]:
    """Node URLs from --url (repeated), then --data-dir's cluster.json, then TASKRAFT_URL (comma-separated)."""
    env = os.environ if env is None else env
    found = [u for item in urls for u in str(item).split(",")]
    if data_dir:
        found += urls_from_data_dir(data_dir)
    if not found:
        found = env.get("TASKRAFT_URL", "").split(",")
    out = []
    for url in found:
        url = url.strip().rstrip("/")
        if not url:
            continue
        if "://" not in url:
            url = "http://" + url
        if url not in out:
            out.append(url)
    if not out:
        raise UsageError("no node to talk to: pass --url URL (repeatable), --data-dir DIR or set TASKRAFT_URL")
    return out
