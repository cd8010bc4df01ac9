"""The `reads` scenario of bench/run, for every system, with the load generator of the writes.

- taskraft: `GET /api/v1/tasks/{id}` (linearizable, the default) and `?consistency=local`, ids drawn uniformly
  from 1..N, the tasks written so far in this run.
- Galera + the Flask task API: `GET /api/v1/tasks/{id}` through three APIs, API i on member gi, every
  connection with `wsrep_sync_wait=1` (linearizable); ids drawn uniformly from the ids of the tasks written so
  far (Galera's auto-increment steps by the cluster size, so they are read from the database).
- etcd: `POST /v3/kv/range` of one key, etcd's default (linearizable, not serializable), keys drawn uniformly
  from the keys the writes wrote (read back from etcd before the run).

Closed loop, the same client counts for every system; the clients are spread over every node (every API for
Galera), as client c starts on node c mod 3. When nothing was written yet in this run (`--scenarios reads`
alone), the system is first filled with FILL writes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

FILL = 1_000


def consistencies(system) -> tuple[str, ...]:
    """taskraft's two read paths; the baselines' linearizable one (the figure compared)."""
    return ("linearizable", "local") if system.name == "taskraft" else ("linearizable",)


def read_target(system, written: int, workdir: Path) -> tuple[dict, str]:
    """The load generator's options choosing what to read, and how the row's settings describe it."""
    keys = system.read_keys()
    if keys is None:
        hi = max(1, written)
        return {"read_ids": f"1-{hi}"}, f"ids 1..{hi}"
    if not keys:
        raise RuntimeError(f"{system.name}: nothing to read, the system holds no key written by the benchmark")
    path = workdir / f"{system.name}-read-keys.txt"
    path.write_text("\n".join(keys) + "\n")
    what = "ids" if system.name == "galera" else "keys"
    return {"read_keys": str(path)}, f"{len(keys)} {what} written by this run"


def describe(system) -> str:
    if system.name == "galera":
        return "all 3 APIs (API i on member gi), wsrep_sync_wait=1"
    if system.name == "etcd":
        return "all members, range of one key (etcd's default: linearizable)"
    return "all nodes"


def run(bench, system) -> None:
    from .suite import row, run_loadgen

    if bench.written == 0:
        bench.fill(system, FILL, "reads")
    p = bench.p
    with tempfile.TemporaryDirectory(prefix="bench-reads-") as tmp:
        target, what = read_target(system, bench.written, Path(tmp))
        for clients in p["read_clients"]:
            for consistency in consistencies(system):
                rep, cpu = run_loadgen(
                    system,
                    system.read_urls(),
                    op="read",
                    consistency=consistency,
                    clients=clients,
                    duration=p["read_seconds"],
                    warmup=p["warmup"],
                    **target,
                )
                bench.rows.append(
                    row(
                        f"reads ({consistency})",
                        system.name,
                        clients=clients,
                        value=rep["ops_per_s"],
                        unit="ops/s",
                        p50=rep["p50_ms"],
                        p99=rep["p99_ms"],
                        errors=rep["errors"],
                        cpu=cpu,
                        acked=rep["ops_total"],
                        settings=f"closed loop, {p['read_seconds']:g} s, {describe(system)}, {what}",
                    )
                )
                bench.progress.step(f"{system.name}: reads {consistency}, {clients} clients")
