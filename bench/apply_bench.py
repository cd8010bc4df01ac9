"""The state machine's apply cost, alone: batches of creates and updates applied to a real MariaDB.

    python -m bench.apply_bench [--batch 64] [--batches 30]

No Raft and no HTTP: this is the applier's share of a write, the figure behind the "apply cost" lever of
docs/performance.md. Prints ops/s and milliseconds per batch; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from taskraft import commands as c
from taskraft.config import MySQLSettings
from taskraft.localcluster.mysqld import MySQLServer
from taskraft.state.db import connect
from taskraft.state.machine import LogEntry, apply_entries
from taskraft.state.schema import migrate
from tests.helpers import free_port


def _entry(index: int, ops: list[dict]) -> LogEntry:
    return LogEntry(index, 1, c.make_entry(ops))


def _op(kind: str, n: int, **kw) -> dict:
    return c.make_op(kind, origin="node-0", origin_addr="127.0.0.1:7000", ts_ms=1_700_000_000_000 + n, **kw)


def run(batch: int, batches: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="taskraft-apply-bench-") as tmp:
        server = MySQLServer(Path(tmp), free_port()).start()
        try:
            server.bootstrap("bench", "taskraft", "bench")
            settings = MySQLSettings(port=server.port, user="taskraft", password="bench", database="bench")
            conn = connect(settings, scripts=True)  # as the applier connects
            migrate(conn)
            index, n, figures = 1, 0, {}
            for kind in ("create", "update"):
                times = []
                for _ in range(batches):
                    ops = []
                    for _ in range(batch):
                        n += 1
                        if kind == "create":
                            ops.append(_op(c.OP_CREATE, n, args={"title": f"task {n}"}))
                        else:
                            ops.append(
                                _op(c.OP_UPDATE, n, task_id=1 + n % (batch * batches), args={"status": "in_progress"})
                            )
                    index += 1
                    start = time.perf_counter()
                    apply_entries(conn, [_entry(index, ops)])
                    conn.commit()
                    times.append(time.perf_counter() - start)
                figures[kind] = {
                    "ops_per_s": round(batch * len(times) / sum(times)),
                    "ms_per_batch_p50": round(statistics.median(times) * 1000, 2),
                    "ms_per_op": round(sum(times) * 1000 / (batch * len(times)), 3),
                }
            conn.close()
            return figures
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="operations per Raft entry")
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    figures = run(args.batch, args.batches)
    print(f"apply cost, {args.batch} ops per entry, {args.batches} entries per kind, one transaction per entry")
    for kind, f in figures.items():
        print(
            f"  {kind:7s} {f['ops_per_s']:6d} ops/s   {f['ms_per_batch_p50']:7.2f} ms per entry (p50)   "
            f"{f['ms_per_op']:.3f} ms per op"
        )


if __name__ == "__main__":
    main()
