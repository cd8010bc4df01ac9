"""The Raft wire's codec (consensus/wire_cipher.py): gcm frames, the fernet format of old members, negotiation."""

from __future__ import annotations

import os
import socket
import time
import zlib

import pytest
from pysyncobj import pickle
from pysyncobj.encryptor import getEncryptor

from taskraft.consensus import wire_cipher as w

SECRET = "test-secret"


@pytest.fixture(scope="module")
def fernet():
    return getEncryptor(SECRET)


def codec(fernet, secret=SECRET, **kw) -> w.LinkCodec:
    return w.LinkCodec(fernet, w.master_key(secret), **kw)


def gcm_pair(fernet, **kw):
    sender, receiver = codec(fernet, **kw), codec(fernet)
    sender.peer_speaks_gcm = True
    return sender, receiver


def send(c, message) -> bytes:  # what TcpConnection does with the bridge's patches
    return c.encrypt_at_time(w.CODEC_ZLIB.compress(pickle.dumps(message), 3), int(time.monotonic()))


def receive(c, frame: bytes):
    c.extract_timestamp(frame)
    return pickle.loads(w.CODEC_ZLIB.decompress(c.decrypt(frame)))


def old_send(fernet, message) -> bytes:  # PySyncObj's own wire: an old member, or TASKRAFT_WIRE=fernet
    return fernet.encrypt_at_time(zlib.compress(pickle.dumps(message), 3), int(time.monotonic()))


def old_receive(fernet, frame: bytes):
    fernet.extract_timestamp(frame)
    return pickle.loads(zlib.decompress(fernet.decrypt(frame)))


SMALL = (os.urandom(32), {"type": "append_entries", "term": 3, "commit_index": 9, "entries": []})
LARGE = (os.urandom(32), {"type": "append_entries", "entries": [(b"x" * 100 + bytes([i]), i, 3) for i in range(100)]})


def test_round_trip_small_uncompressed_and_large_compressed(fernet):
    sender, receiver = gcm_pair(fernet)
    small, large = send(sender, SMALL), send(sender, LARGE)
    assert small[:1] == w.GCM_TAG and large[:1] == w.GCM_TAG
    assert receive(receiver, small) == SMALL and receive(receiver, large) == LARGE
    assert len(small) == w.HEADER.size + len(pickle.dumps(SMALL)) + 16  # no zlib below COMPRESS_FROM
    assert len(large) < len(pickle.dumps(LARGE)) // 2  # zlib from COMPRESS_FROM on
    assert receiver.received_gcm and receiver.peer_speaks_gcm


def test_tampering_with_any_byte_is_rejected(fernet):
    sender, _ = gcm_pair(fernet)
    frame = send(sender, SMALL)
    for i in range(len(frame)):  # tag, sid, counter, ciphertext, GCM tag
        bad = bytearray(frame)
        bad[i] ^= 0x01
        with pytest.raises(Exception):  # noqa: B017 - TcpConnection drops the link on any exception
            receive(codec(fernet), bytes(bad))
    assert receive(codec(fernet), frame) == SMALL
    with pytest.raises(w.WireError):
        receive(codec(fernet), frame[:-1])  # truncated
    with pytest.raises(w.WireError):
        receive(codec(fernet), frame[: w.HEADER.size + 8])


def test_another_secret_is_rejected(fernet):
    sender, _ = gcm_pair(fernet)
    frame = send(sender, SMALL)
    other = w.LinkCodec(getEncryptor("other"), w.master_key("other"))
    with pytest.raises(w.WireError):
        receive(other, frame)


def test_replayed_reordered_and_spliced_frames_are_rejected(fernet):
    sender, receiver = gcm_pair(fernet)
    first, second = send(sender, SMALL), send(sender, LARGE)
    assert receive(receiver, first) == SMALL
    with pytest.raises(w.WireError):
        receive(receiver, first)  # replay
    assert receive(receiver, second) == LARGE
    sender2, _ = gcm_pair(fernet)
    with pytest.raises(w.WireError):
        receive(receiver, send(sender2, SMALL))  # a frame of another link (another sid)
    sender3, receiver3 = gcm_pair(fernet)
    a, b = send(sender3, SMALL), send(sender3, SMALL)
    assert receive(receiver3, b) == SMALL
    with pytest.raises(w.WireError):
        receive(receiver3, a)  # out of order


def test_nonces_are_a_counter_under_a_key_of_the_link(fernet):
    sender, _ = gcm_pair(fernet)
    frames = [send(sender, SMALL) for _ in range(5)]
    headers = [w.HEADER.unpack_from(f) for f in frames]
    assert [h[2] for h in headers] == [1, 2, 3, 4, 5]
    assert len({h[1] for h in headers}) == 1
    sids = {codec(fernet).sid for _ in range(100)}
    assert len(sids) == 100 and all(len(s) == 16 for s in sids)


def test_an_old_member_reads_what_a_new_one_sends_it(fernet):
    new = codec(fernet)
    frame = send(new, SMALL)  # the peer has not shown it speaks gcm
    assert frame[:1] == b"g" and old_receive(fernet, frame) == SMALL  # a Fernet token of zlib, as before
    assert fernet.extract_timestamp(frame) & w.GCM_CAPABLE  # marked: old members only compare timestamps
    assert fernet.extract_timestamp(send(new, SMALL)) >= fernet.extract_timestamp(frame)


def test_a_new_member_reads_an_old_one_and_keeps_speaking_fernet_to_it(fernet):
    new = codec(fernet)
    assert receive(new, old_send(fernet, SMALL)) == SMALL
    assert receive(new, old_send(fernet, LARGE)) == LARGE
    assert not new.peer_speaks_gcm
    assert send(new, SMALL)[:1] == b"g"


def test_two_new_members_negotiate_gcm_on_the_first_frame(fernet):
    a, b = codec(fernet), codec(fernet)
    hello = send(a, SMALL)  # a Fernet token, marked
    assert hello[:1] == b"g" and receive(b, hello) == SMALL
    reply = send(b, SMALL)
    assert reply[:1] == w.GCM_TAG and receive(a, reply) == SMALL
    assert send(a, LARGE)[:1] == w.GCM_TAG


def test_no_fernet_after_gcm_on_a_link(fernet):
    sender, receiver = gcm_pair(fernet)
    receive(receiver, send(sender, SMALL))
    with pytest.raises(w.WireError):
        receive(receiver, old_send(fernet, SMALL))


def test_modes(fernet, monkeypatch):
    assert w.wire_mode({}) == "gcm" and w.wire_mode({"TASKRAFT_WIRE": "Fernet"}) == "fernet"
    with pytest.raises(w.WireError):
        w.wire_mode({"TASKRAFT_WIRE": "aes"})
    assert w.link_codec(fernet, SECRET, mode="fernet") is fernet
    assert isinstance(w.link_codec(fernet, SECRET, mode="gcm"), w.LinkCodec)
    plain = w.link_codec(None, None, mode="gcm")  # --insecure: PySyncObj's unencrypted wire, zlib always
    frame = plain.encrypt_at_time(pickle.dumps(SMALL), 0)
    assert pickle.loads(zlib.decompress(frame)) == SMALL
    assert receive(plain, frame) == SMALL


def test_through_pysyncobj_tcp_connections(fernet):
    """Two PySyncObj TcpConnections over a socket pair, with the codecs the bridge gives links."""
    from pysyncobj import tcp_connection
    from pysyncobj.poller import createPoller

    import taskraft.consensus.pysyncobj_bridge  # noqa: F401 - its patches

    if w.process_mode() != "gcm":
        pytest.skip("TASKRAFT_WIRE=fernet in this process")
    assert tcp_connection.zlib is w.CODEC_ZLIB
    poller = createPoller("select")
    left, right = socket.socketpair()
    left.setblocking(False), right.setblocking(False)  # as PySyncObj's server and connect() make them
    got: dict[str, list] = {"a": [], "b": []}
    a = tcp_connection.TcpConnection(poller, socket=left, onMessageReceived=got["a"].append)
    b = tcp_connection.TcpConnection(poller, socket=right, onMessageReceived=got["b"].append)
    a.encryptor, b.encryptor = w.link_codec(fernet, SECRET), w.link_codec(fernet, SECRET)

    def exchange(*messages):
        for message in messages:
            a.send(message), b.send(message)
        want, deadline = len(got["a"]) + len(messages), time.monotonic() + 5
        while (len(got["a"]) < want or len(got["b"]) < want) and time.monotonic() < deadline:
            poller.poll(0.05)

    exchange(SMALL)  # fernet, marked, each way
    assert not a.encryptor.received_gcm and a.encryptor.peer_speaks_gcm and b.encryptor.peer_speaks_gcm
    exchange(LARGE, SMALL)
    assert got["a"] == got["b"] == [SMALL, LARGE, SMALL]
    assert a.encryptor.received_gcm and b.encryptor.received_gcm
    a.disconnect(), b.disconnect()
