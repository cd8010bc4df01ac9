"""Micro-benchmark of the Raft peer wire: microseconds per message to send and to receive, and bytes on the wire.

    python -m bench.wire_bench [--rounds N] [--formats fernet,gcm]

For typical messages (a heartbeat, an append of one write, its acknowledgement, an append of 64 writes), times
each format exactly as PySyncObj's TcpConnection runs it: send = pickle, compress, encrypt; receive = extract the
timestamp, decrypt, decompress, unpickle (the 4-byte length prefix and the socket are left out).

- fernet: PySyncObj's own wire (zlib level 3, then Fernet), what old members and TASKRAFT_WIRE=fernet speak;
- gcm: taskraft's codec (service/consensus/wire_cipher.py) on a link whose peer speaks gcm;
- gcm+zlib: the same with every message compressed (what the small-message threshold saves);
- gcm-zlib: the same with no message compressed (what compressing large ones costs).
The fastest of `--reps` batches of `--rounds` messages counts; figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import time
import zlib

from pysyncobj import pickle
from pysyncobj.encryptor import getEncryptor

from taskraft.commands import make_entry, make_op
from taskraft.consensus import wire_cipher

SECRET = "bench-secret-0123456789"


def _write_entry(i: int) -> tuple[bytes, int, int]:
    op = make_op(
        "create",
        origin="10.0.0.1:4321",
        origin_addr="10.0.0.1:4321",
        args={"title": f"bench 3-{i}", "description": "x" * 60},
        user="bench",
    )
    return b"\x00" + pickle.dumps((0, (make_entry([op]),))), 1000 + i, 7


def messages() -> dict[str, object]:
    rand_key = os.urandom(32)  # PySyncObj wraps every message with the link's random key
    base = {"type": "append_entries", "term": 7, "commit_index": 123456, "prevLogIdx": 123456, "prevLogTerm": 7}
    ack = {"type": "next_node_idx", "next_node_idx": 123457, "success": True, "term": 7}
    return {
        "heartbeat": (rand_key, {**base, "entries": []}),
        "ack": (rand_key, ack),
        "append 1 write": (rand_key, {**base, "entries": [_write_entry(0)]}),
        "append 64 writes": (rand_key, {**base, "entries": [_write_entry(i) for i in range(64)]}),
    }


def _fernet_pair(fernet):
    def send(message):
        return fernet.encrypt_at_time(zlib.compress(pickle.dumps(message), 3), int(time.monotonic()))

    def receive(data):
        fernet.extract_timestamp(data)
        return pickle.loads(zlib.decompress(fernet.decrypt(data)))

    return send, receive


def _gcm_pair(fernet, compress_from):
    sender = wire_cipher.LinkCodec(fernet, wire_cipher.master_key(SECRET), compress_from=compress_from)
    receiver = wire_cipher.LinkCodec(fernet, wire_cipher.master_key(SECRET))
    sender.peer_speaks_gcm = True
    z = wire_cipher.CODEC_ZLIB

    def send(message):
        return sender.encrypt_at_time(z.compress(pickle.dumps(message), 3), int(time.monotonic()))

    def receive(data):
        receiver.extract_timestamp(data)
        return pickle.loads(z.decompress(receiver.decrypt(data)))

    return send, receive


def _best(fn, items, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="messages per timed batch")
    parser.add_argument("--reps", type=int, default=25, help="timed batches; the fastest counts (a shared machine)")
    parser.add_argument("--formats", default="fernet,gcm,gcm+zlib")
    args = parser.parse_args()
    fernet = getEncryptor(SECRET)
    pairs = {
        "fernet": lambda: _fernet_pair(fernet),
        "gcm": lambda: _gcm_pair(fernet, wire_cipher.COMPRESS_FROM),
        "gcm+zlib": lambda: _gcm_pair(fernet, 0),
        "gcm-zlib": lambda: _gcm_pair(fernet, 1 << 40),
    }
    print(f"{'message':<18} {'pickle B':>8} {'format':<9} {'wire B':>7} {'send us':>8} {'recv us':>8} {'total us':>9}")
    for name, message in messages().items():
        size = len(pickle.dumps(message))
        rounds, reps = max(20, args.rounds // (16 if size > 4096 else 1)), args.reps
        for fmt in args.formats.split(","):
            send, receive = pairs[fmt]()
            assert receive(send(message)) == message
            send_us = _best(send, [message] * rounds, reps)
            send2, receive2 = pairs[fmt]()  # a fresh link: gcm counters must grow, so each frame is received once
            frames = [send2(message) for _ in range(rounds * reps)]
            chunks = [frames[i * rounds : (i + 1) * rounds] for i in range(reps)]
            recv_us = min(_best(receive2, chunk, reps=1) for chunk in chunks)
            wire = len(frames[0])
            print(f"{name:<18} {size:>8} {fmt:<9} {wire:>7} {send_us:>8.1f} {recv_us:>8.1f} {send_us + recv_us:>9.1f}")


if __name__ == "__main__":
    main()
