"""TLS for the client (client.py): which CA https nodes are verified against, and why a handshake failed."""

from __future__ import annotations

import json
import os
from pathlib import Path


def ca_file_from_data_dir(data_dir) -> str | None:
    """The CA a local cluster started with `--tls` recorded in its cluster.json (none without TLS)."""
    try:
        return json.loads((Path(data_dir) / "cluster.json").read_text()).get("ca_file") or None
    except (OSError, ValueError):
        return None


def resolve_ca_file(ca_file=None, data_dir=None, env=None) -> str | None:
    """The CA bundle https nodes are verified against: --ca-file, then --data-dir's cluster.json, then
    TASKRAFT_CA_FILE; none: the system's CAs."""
    env = os.environ if env is None else env
    return ca_file or (ca_file_from_data_dir(data_dir) if data_dir else None) or env.get("TASKRAFT_CA_FILE") or None


def tls_reason(exc: Exception) -> str:
    """The innermost reason of a TLS failure, e.g. `certificate verify failed: self-signed certificate`."""
    text = str(exc)
    for marker in ("certificate verify failed", "wrong version number", "SSL"):
        at = text.find(marker)
        if at >= 0:
            return text[at:].split("(_ssl.c")[0].split("')")[0].split('")')[0].rstrip(" )(")
    return type(exc).__name__
