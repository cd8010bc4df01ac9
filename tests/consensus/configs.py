"""Node configurations for tests that run RaftNodes in this process."""

from __future__ import annotations

import dataclasses

from taskraft.config import NodeConfig, load_config


def raft_config(peers: list[str], i: int, data_dir, *, secret: str | None = None, **timings) -> NodeConfig:
    """Node i of `peers` (named n<i>), its Raft files in `data_dir`, `timings` overriding the defaults.

    With a `secret` the links are encrypted; without one the node runs insecure.
    """
    options = {
        "node_id": f"n{i}",
        "raft_advertise": peers[i],
        "raft_bind": peers[i],
        "peers": ",".join(peers),
        "data_dir": str(data_dir),
    }
    options.update({"raft_secret": secret} if secret else {"insecure": True})
    cfg = load_config(options)
    return dataclasses.replace(cfg, timings=dataclasses.replace(cfg.timings, **timings))
