"""The cipher and framing of Raft peer messages: AES-256-GCM frames beside PySyncObj's Fernet tokens.

PySyncObj's TcpConnection sends `encryptor.encrypt_at_time(zlib.compress(pickle), t)` and receives with
`encryptor.extract_timestamp`, `encryptor.decrypt`, `zlib.decompress`, `pickle.loads`. The bridge
(pysyncobj_bridge.py) gives every link its own `LinkCodec` as its encryptor, and makes TcpConnection's `zlib`
the `CODEC_ZLIB` below: compressing becomes the codec's choice, frame by frame. Nothing here touches PySyncObj.

Formats on the wire (each inside PySyncObj's 4-byte length prefix):
- **fernet**: PySyncObj's own, a Fernet token (AES-128-CBC + HMAC-SHA256, base64) of the zlib-compressed pickle,
  the key derived from the cluster secret by PBKDF2 (PySyncObj's encryptor.py). Old members speak only this.
- **gcm**: `0x01 | sid (16 bytes) | counter (8, big-endian) | AES-256-GCM(pickle or zlib(pickle)) | tag (16)`;
  the 25-byte header is authenticated (associated data). The plaintext is compressed only from
  `COMPRESS_FROM` bytes on; the receiver tells by its first byte (a pickle starts with 0x80, zlib with 0x78).

Keys and nonces: the master key is PBKDF2-SHA256 of the cluster secret (100,000 iterations, a salt of its own,
so it is independent of the Fernet keys). Each sending side of each link draws a random 128-bit `sid` and
encrypts under HKDF-SHA256(master, salt=sid), with the nonce = its frame counter (1, 2, ...). A nonce is thus
never reused under a key by construction (no birthday bound on random nonces, whatever the traffic), and a key
repeats only if two 128-bit random sids collide. The receiver binds a link to the first sid it sees and wants
the counter to grow: a replayed, reordered or spliced frame is rejected (on top of PySyncObj's per-link random
key inside every message).

Negotiation, for rolling upgrades: a new member sends fernet, and marks every Fernet token it sends with
`GCM_CAPABLE` in the token's timestamp (authenticated by the token's HMAC; PySyncObj only checks that the
timestamps of a link never decrease, and decrypts without a TTL). Once it has received a marked token or a
gcm frame on a link, it sends gcm on that link. It accepts both formats, except fernet after gcm on a link (no
downgrade). Old members ignore the mark, so with them a link stays fernet. TASKRAFT_WIRE=fernet turns all of
this off: the member then speaks PySyncObj's wire exactly as an old member does.
"""

from __future__ import annotations

import functools
import os
import struct
import zlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .. import metrics

MODES = ("gcm", "fernet")
GCM_TAG = b"\x01"  # first byte of a gcm frame; a Fernet token starts with b"g" (base64 of its version 0x80)
HEADER = struct.Struct(">c16sQ")  # tag, sid, counter
GCM_CAPABLE = 1 << 48  # or-ed into the timestamp of the Fernet tokens a new member sends (seconds of uptime below)
GCM_TIMESTAMP = 1 << 62  # what extract_timestamp answers for a gcm frame: above every Fernet token's
COMPRESS_FROM = 4096  # plaintexts of fewer bytes travel uncompressed in gcm frames (measured: bench/wire_bench.py)
ZLIB_LEVEL = 3  # PySyncObj's
MASTER_SALT = b"taskraft raft wire aes-256-gcm master key v1"
LINK_INFO = b"taskraft raft wire aes-256-gcm link key v1"
PBKDF2_ITERATIONS = 100_000  # as PySyncObj's for Fernet


class WireError(ValueError):
    """A frame that is not accepted: PySyncObj drops the link on any exception while reading one."""


def wire_mode(environ=os.environ) -> str:
    mode = environ.get("TASKRAFT_WIRE", "gcm").strip().lower() or "gcm"
    if mode not in MODES:
        raise WireError(f"TASKRAFT_WIRE must be one of {', '.join(MODES)} (got {mode!r})")
    return mode


process_mode = functools.cache(wire_mode)  # read once: the bridge patches TcpConnection's zlib by it at import


@functools.lru_cache(maxsize=4)
def master_key(secret: str | bytes) -> bytes:
    secret = secret.encode() if isinstance(secret, str) else secret
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=MASTER_SALT, iterations=PBKDF2_ITERATIONS)
    return kdf.derive(secret)


def link_key(master: bytes, sid: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=sid, info=LINK_INFO).derive(master))


def _nonce(counter: int) -> bytes:
    return b"\0\0\0\0" + counter.to_bytes(8, "big")


class _CodecZlib:
    """Stands in for TcpConnection's `zlib` when links carry codecs: compression is the codec's choice."""

    @staticmethod
    def compress(data: bytes, level: int = -1) -> bytes:
        return data

    @staticmethod
    def decompress(data: bytes) -> bytes:
        return data if data[:1] == b"\x80" else zlib.decompress(data)  # a pickle (protocol 2) starts with 0x80


CODEC_ZLIB = _CodecZlib()


def tcp_zlib(zlib_module):
    """What TcpConnection's `zlib` is to be: itself under TASKRAFT_WIRE=fernet, else CODEC_ZLIB."""
    return zlib_module if process_mode() == "fernet" else CODEC_ZLIB


class PlainCodec:
    """A link without a cluster secret (--insecure): PySyncObj's wire without encryption, zlib always."""

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
        return zlib.compress(data, ZLIB_LEVEL)

    def extract_timestamp(self, token: bytes) -> int:
        return 0

    def decrypt(self, token: bytes) -> bytes:
        return token


class LinkCodec:
    """One link's formats, keys and counters (PySyncObj calls it from its tick thread only)."""

    def __init__(self, fernet, master: bytes, compress_from: int = COMPRESS_FROM):
        self.fernet, self.master, self.compress_from = fernet, master, compress_from
        self.peer_speaks_gcm = False  # send gcm: the peer marked its tokens or sent gcm
        self.received_gcm = False  # fernet is refused from then on
        self.sid = os.urandom(16)
        self.counter = 0
        self._send_key: AESGCM | None = None
        self._recv_sid: bytes | None = None
        self._recv_key: AESGCM | None = None
        self._recv_counter = 0

    def __bool__(self) -> bool:  # TcpConnection encrypts when its encryptor is truthy
        return True

    def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
        if not self.peer_speaks_gcm:
            return self.fernet.encrypt_at_time(zlib.compress(data, ZLIB_LEVEL), GCM_CAPABLE | current_time)
        return self.seal(data)

    def seal(self, data: bytes) -> bytes:
        if len(data) >= self.compress_from:
            packed = zlib.compress(data, ZLIB_LEVEL)
            data = packed if len(packed) < len(data) else data
        if self._send_key is None:
            self._send_key = link_key(self.master, self.sid)
        self.counter += 1
        header = HEADER.pack(GCM_TAG, self.sid, self.counter)
        return header + self._send_key.encrypt(_nonce(self.counter), data, header)

    def extract_timestamp(self, token: bytes) -> int:
        if token[:1] == GCM_TAG:
            return GCM_TIMESTAMP  # the frame itself is checked in decrypt
        if self.received_gcm:
            raise WireError("a fernet token on a link that carries gcm")
        timestamp = self.fernet.extract_timestamp(token)  # verifies the token's HMAC
        if timestamp & GCM_CAPABLE:
            self._peer_speaks_gcm()
        return timestamp

    def decrypt(self, token: bytes) -> bytes:
        if token[:1] != GCM_TAG:
            if self.received_gcm:
                raise WireError("a fernet token on a link that carries gcm")
            return self.fernet.decrypt(token)
        return self.open(token)

    def open(self, token: bytes) -> bytes:
        if len(token) < HEADER.size + 16:
            raise WireError("a gcm frame too short")
        _tag, sid, counter = HEADER.unpack_from(token)
        if self._recv_key is None:
            key = link_key(self.master, sid)  # a forged sid fails the tag below; nothing is kept until it passes
        elif sid == self._recv_sid:
            key = self._recv_key
        else:
            raise WireError("a gcm frame of another link")
        if counter <= self._recv_counter:
            raise WireError("a gcm frame replayed or out of order")
        try:
            data = key.decrypt(_nonce(counter), token[HEADER.size :], token[: HEADER.size])
        except InvalidTag:
            raise WireError("a gcm frame that fails authentication") from None
        self._recv_sid, self._recv_key, self._recv_counter = sid, key, counter
        self.received_gcm = True
        self._peer_speaks_gcm()
        return data

    def _peer_speaks_gcm(self) -> None:
        if not self.peer_speaks_gcm:
            self.peer_speaks_gcm = True
            metrics.RAFT_WIRE_GCM_LINKS.inc()


def link_codec(encryptor, secret: str | bytes | None, mode: str | None = None):
    """The encryptor for a new link: PySyncObj's own (`encryptor`) under TASKRAFT_WIRE=fernet, else a codec."""
    if (mode or process_mode()) == "fernet":
        return encryptor
    if encryptor is None or not secret:
        return PlainCodec()
    return LinkCodec(encryptor, master_key(secret))
