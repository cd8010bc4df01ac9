"""Request ids: unique within a process, across its threads, and in a forked child (gunicorn's worker)."""

from __future__ import annotations

import os
import threading

from taskraft import commands as c


def test_ids_are_unique_across_threads():
    seen: list[list[str]] = [[] for _ in range(8)]

    def draw(out):
        for _ in range(5000):
            out.append(c.new_request_id())

    threads = [threading.Thread(target=draw, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [rid for out in seen for rid in out]
    assert len(set(every)) == len(every) == 40000


def test_a_forked_child_draws_a_prefix_of_its_own():
    parent_id = c.new_request_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its first id and leave at once
        os.write(write, c.new_request_id().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 200).decode()
    os.close(read)
    os.waitpid(pid, 0)
    prefix = parent_id.rsplit("-", 1)[0]
    assert child_id and not child_id.startswith(prefix + "-"), (parent_id, child_id)
    assert c.new_request_id().startswith(prefix + "-")  # the parent goes on with its own
