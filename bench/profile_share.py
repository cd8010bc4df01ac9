"""Where a node's busy samples go, by kind of work: HTTP (gunicorn, Werkzeug, Flask, JSON, validation) or not.

    python -m bench.profile_share FILE.collapsed

Reads the collapsed stacks `bench/run --profile DIR` writes (py-spy, threads it saw running), leaves out the
samples whose innermost frame is a wait (a poll, a select, a condition, an idle pool thread, a blocking read
of a socket), and sorts the others, the busy samples, by the frames that name their kind:
- http: gunicorn's accept loop and request threads, Werkzeug, Flask, the JSON providers, pydantic and the
  API's own modules, until the request reaches the node (`submit`, a read);
- node, from a request thread: what the request thread does inside the node (proposing, waiting set-up,
  read queries);
- raft: PySyncObj's tick thread (journal, serializer, transport);
- applier: the applier thread (pymysql, the state machine);
- other: anything else (metrics, the start thread, logging).
The "http" share is what several HTTP worker processes would take off the Raft process's interpreter lock.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# Frames that mark where a request enters the node: below them, the work is the node's, not HTTP's.
_NODE_ENTRY = ("node_port.py", "/node.py", "proposals.py", "queries.py", "/db.py")
_HTTP = ("gunicorn/", "werkzeug/", "flask/", "json_provider.py", "pydantic", "/api/", "json/", "msgspec")


# Innermost frames that wait for something (py-spy counts some of them as running).
_WAITS = (
    "PollPoller.poll ",
    "Condition.wait ",
    "Event.wait ",
    "_worker (concurrent/futures/thread.py",
    "EpollSelector.select ",
    "SocketIO.readinto ",
    "_wait_for_tstate_lock ",
    "Queue.get ",
)


def classify(frames: list[str]) -> str:
    if not frames or frames[-1].startswith(_WAITS):
        return "waiting"
    text = ";".join(frames)
    if "pysyncobj/" in text and "gunicorn/" not in text:
        return "raft"
    if "applier.py" in text and "gunicorn/" not in text:
        return "applier"
    if "gunicorn/" in text:
        if any(any(mark in f for mark in _NODE_ENTRY) for f in frames):
            return "node, from a request thread"
        return "http"
    if any(any(mark in f for mark in _HTTP) for f in frames):
        return "http"
    return "other"


def shares(path: Path) -> tuple[int, Counter]:
    counts: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        counts[classify(frames)] += int(count)
        total += int(count)
    return total, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collapsed", type=Path)
    args = parser.parse_args()
    total, counts = shares(args.collapsed)
    busy = total - counts.pop("waiting", 0)
    print(f"{total} samples in {args.collapsed}, {busy} busy; share of the busy samples:")
    for kind, n in counts.most_common():
        print(f"  {kind:<30} {n:>7}  {100 * n / max(busy, 1):5.1f} %")


if __name__ == "__main__":
    main()
