"""Every use of PySyncObj's internals, each with its reason; the rest of taskraft uses this module's API.

PySyncObj 0.3.17 has no public hook for what taskraft needs: the term of the entry being applied, a durable journal,
snapshot files written by the database side, policy over nextIndex, votes and elections, link upkeep, the wire's
cipher. So `RaftCore` subclasses SyncObj, `_Transport` TCPTransport, and three module globals are patched; each
decision is a `RaftHooks`' (raft.RaftNode) or a link codec's (wire_cipher.py). Importing this checks that PySyncObj
is the pinned version with every member used here: another fails at startup naming what is missing.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import TYPE_CHECKING

import pysyncobj.syncobj as _syncobj_module
import pysyncobj.tcp_connection as _tcp_connection_module
import pysyncobj.version as _version_module
from pysyncobj import SyncObj, SyncObjConf, pickle, replicated
from pysyncobj.config import SERIALIZER_STATE
from pysyncobj.journal import MemoryJournal
from pysyncobj.monotonic import monotonic as raft_clock
from pysyncobj.pipe_notifier import PipeNotifier
from pysyncobj.serializer import Serializer
from pysyncobj.tcp_connection import CONNECTION_STATE
from pysyncobj.transport import TCPTransport

from . import wire_cipher
from .journal import DurableJournal

if TYPE_CHECKING:
    from .hooks import RaftHooks

PINNED_VERSION = "0.3.17"
ROLES = {0: "follower", 1: "candidate", 2: "leader"}

# What this module touches, checked at import. `self.__x` names are looked up in the class source.
# fmt: off
_SYNCOBJ_FIELDS = (
    "raftLog", "raftState", "raftElectionDeadline", "raftCommitIndex", "raftNextIndex",
    "raftMatchIndex", "votedForNodeId", "connectedNodes", "otherNodes", "selfNode", "serializer", "conf",
    "transport", "lastSerializedTime", "lastSerializedEntry", "forceLogCompaction", "readonlyNodes",
    "lastResponseTime", "nodeClass",
)
_SYNCOBJ_METHODS = (
    "onMessageReceived", "sendAppendEntries", "tryLogCompaction", "onNodeConnected", "onNodeDisconnected",
    "deleteEntriesTo", "getEntries", "setCurrentTerm", "onBecomeLeader",
)
# fmt: on
_PROTECTED = {
    "SyncObj": (SyncObj, ("_onTick", "_checkCommandsToApply", "_isLeader", "_getLeader", "_methodToID", "_poller")),
    "TCPTransport": (
        TCPTransport,
        ("_onNodeConnected", "_onIncomingMessageReceived", "_nodeAddrToNode", "_connections", "_syncObj")
        + ("_onNewIncomingConnection", "_onOutgoingConnected"),  # each link's codec (wire_cipher.py)
    ),
}
_SOURCE_FIELDS = (  # (owner, class, how its source sets the field)
    ("TcpConnection", _tcp_connection_module.TcpConnection, "self.__lastReadTime"),
    ("TcpConnection", _tcp_connection_module.TcpConnection, "self.sendRandKey"),
    ("Serializer", Serializer, "self.__serializer"),
    ("TcpConnection", _tcp_connection_module.TcpConnection, "self.encryptor.encrypt_at_time(data"),  # wire_cipher.py
    ("TcpConnection", _tcp_connection_module.TcpConnection, "pickle.loads(zlib.decompress(data))"),
)


class PySyncObjMismatch(ImportError):
    """The installed PySyncObj is not the one this module was written for."""


def check_pysyncobj(
    version: str | None = None, syncobj_cls=SyncObj, transport_cls=TCPTransport, syncobj_module=_syncobj_module
) -> None:
    """Raise PySyncObjMismatch naming every expectation of this module the installed PySyncObj misses."""
    missing = []
    version = _version_module.VERSION if version is None else version
    if version != PINNED_VERSION:
        missing.append(f"version {PINNED_VERSION} (installed: {version})")
    source = inspect.getsource(syncobj_cls)
    missing += [f"SyncObj.__{f}" for f in _SYNCOBJ_FIELDS if f"self.__{f}" not in source]
    missing += [f"SyncObj.__{m}()" for m in _SYNCOBJ_METHODS if not hasattr(syncobj_cls, f"_SyncObj__{m}")]
    classes = {"SyncObj": syncobj_cls, "TCPTransport": transport_cls}
    for owner, (_default, names) in _PROTECTED.items():
        text = inspect.getsource(classes[owner])
        missing += [f"{owner}.{n}" for n in names if not hasattr(classes[owner], n) and f"self.{n}" not in text]
    for owner, cls, needle in _SOURCE_FIELDS:
        if needle not in inspect.getsource(cls):
            missing.append(f"{owner}.{needle.removeprefix('self.')}")
    globals_used = ("createJournal", "Serializer", "_bchr", "_COMMAND_TYPE")
    missing += [f"pysyncobj.syncobj.{n}" for n in globals_used if not hasattr(syncobj_module, n)]
    if missing:
        needs = f"taskraft's consensus layer needs PySyncObj {PINNED_VERSION}; the installed one lacks: "
        raise PySyncObjMismatch(f"{needs}{', '.join(missing)}. Install it: pip install pysyncobj=={PINNED_VERSION}")


check_pysyncobj()


def _create_journal(path=None):
    return DurableJournal(path, decode=command_of) if path else MemoryJournal()


class _SeedingSerializer(Serializer):
    """PySyncObj's Serializer; before streaming the snapshot file to a follower, our hooks may make it a full dump."""

    def getTransmissionData(self, transmissionID):
        hooks = getattr(self._Serializer__serializer, "__self__", None)  # the owner of the serializer callback
        stream = getattr(hooks, "transmission_data", None) or (lambda read, tid: read(tid))
        return stream(lambda tid: Serializer.getTransmissionData(self, tid), transmissionID)


def _install_patches() -> None:
    """Once per process: PySyncObj builds its journal and serializer, and compresses, through these globals."""
    if getattr(_syncobj_module, "_taskraft_patched", False):
        return
    _syncobj_module.createJournal = _create_journal  # fsynced entries, term and vote (journal.py)
    _syncobj_module.Serializer = _SeedingSerializer  # full dumps only when a follower needs one
    _tcp_connection_module.zlib = wire_cipher.tcp_zlib(_tcp_connection_module.zlib)  # or links' codecs compress
    _syncobj_module._taskraft_patched = True


_install_patches()


class _Transport(TCPTransport):
    """TCPTransport that takes links from any peer holding the secret (Raft takes RPCs from any server, and a
    follower whose log lags may not list the leader yet), gives each link its codec, greets it with the hooks' hello."""

    def _onIncomingMessageReceived(self, conn, message):  # the peer names itself once the keys are exchanged
        named = isinstance(message, str) and message != "readonly" and message not in self._nodeAddrToNode
        if named and (conn.sendRandKey or not self._syncObj.encryptor):
            self.addNode(self._syncObj._SyncObj__nodeClass(message))
        TCPTransport._onIncomingMessageReceived(self, conn, message)

    def _onNewIncomingConnection(self, conn):  # each link gets its own codec (wire_cipher.py, TASKRAFT_WIRE)
        TCPTransport._onNewIncomingConnection(self, conn)
        conn.encryptor = wire_cipher.link_codec(conn.encryptor, self._syncObj.conf.password)

    def _onOutgoingConnected(self, conn):  # likewise, on every (re)connect: a new link starts afresh
        conn.encryptor = wire_cipher.link_codec(self._syncObj.encryptor, self._syncObj.conf.password)
        TCPTransport._onOutgoingConnected(self, conn)

    def _onNodeConnected(self, node):  # the one point every new link passes, outgoing and incoming
        if (hello := self._syncObj.hooks.hello(node.id)) is not None:
            self.send(node, hello)
        TCPTransport._onNodeConnected(self, node)


class RaftCore(SyncObj):
    """SyncObj carrying out the hooks' decisions; its methods are the only view of PySyncObj's state."""

    _SyncObj__forceLogCompaction: bool  # SyncObj's (untyped); read, then set, in _SyncObj__tryLogCompaction
    _SyncObj__otherNodes: set  # likewise: replaced, not mutated, in set_members
    _SyncObj__readonlyNodes: set

    def __init__(self, self_address: str, peers, conf: SyncObjConf, hooks: RaftHooks):
        self.hooks = hooks  # everything the tick thread touches exists before SyncObj starts it
        self._wake_pipe: PipeNotifier | None = None
        hooks.attach(self)
        super().__init__(self_address, list(peers), conf, transportClass=_Transport)

    # -- the replicated method and the command queue ------------------------------------------------
    @replicated
    def apply_entry(self, command):
        index = self.raftLastApplied + 1  # entries are applied in order; PySyncObj passes no index
        # the entry being applied is in the log, so its term is known (entry_term is None only outside it)
        self.hooks.on_apply(index, self.entry_term(index), command)  # type: ignore[arg-type]
        return index

    def _onTick(self, timeToWait=0.0):  # its first step is the election check: a node that may not stand is held there
        if not self.hooks.may_stand():
            self.election_deadline = max(self.election_deadline, raft_clock() + self._SyncObj__conf.raftMaxTimeout)
        SyncObj._onTick(self, timeToWait)

    def _checkCommandsToApply(self):  # where queued commands go to the leader or into the log
        if not self.hooks.hold_commands():
            SyncObj._checkCommandsToApply(self)

    # -- overridden handlers -----------------------------------------------------------------------
    def _SyncObj__onMessageReceived(self, node, message):  # PySyncObj's one entry for peer messages
        peer, kind = node.id, message.get("type")
        if not self.hooks.admit(peer, message):
            return
        deliver = SyncObj._SyncObj__onMessageReceived
        if kind == "append_entries" and "prevLogIdx" not in message:
            self._receive_snapshot_part(node, message)
            self.hooks.after_append(peer, message, None)
        elif kind == "append_entries" and "transmission" not in message:
            hint = self.hooks.conflict_hint(peer, message)  # before PySyncObj truncates anything
            deliver(self, node, message)
            self.hooks.after_append(peer, message, hint)
        elif kind == "next_node_idx":
            before = self._SyncObj__raftNextIndex.get(node)
            deliver(self, node, message)
            after = self._SyncObj__raftNextIndex.get(node)
            if before is not None and after is not None:
                self._SyncObj__raftNextIndex[node] = self.hooks.settle_next_index(peer, message, before, after)
        else:
            deliver(self, node, message)
            if kind == "request_vote":
                self.hooks.after_vote_request(peer, message)

    def _receive_snapshot_part(self, node, message) -> None:
        """Snapshot parts (no prevLogIdx) may install a snapshot, never commit our entries as PySyncObj would."""
        log, commit_before = self._SyncObj__raftLog, self.raftCommitIndex
        before = (len(log), log[0], log[-1])
        SyncObj._SyncObj__onMessageReceived(self, node, message)
        if (len(log), log[0], log[-1]) != before:
            self.hooks.on_snapshot_installed(node.id)
        elif self.raftCommitIndex > commit_before:
            self._SyncObj__raftCommitIndex = commit_before
            log.setRaftCommitIndex(commit_before)

    def _SyncObj__sendAppendEntries(self):  # a follower waiting for a dump gets one heartbeat per round
        first = self._SyncObj__raftLog[0][1]
        connected = self._SyncObj__connectedNodes
        waiting = [n for n, nxt in self._SyncObj__raftNextIndex.items() if nxt <= first and n in connected]
        if not waiting or self.hooks.snapshot_ready():
            return SyncObj._SyncObj__sendAppendEntries(self)
        term, commit = self.raftCurrentTerm, self.raftCommitIndex
        heartbeat = {"type": "append_entries", "term": term, "commit_index": commit, "serialized": None}
        skipped = [node for node in waiting if self._SyncObj__transport.send(node, heartbeat)]
        connected.difference_update(skipped)  # PySyncObj's loop skips nodes it thinks disconnected
        try:
            SyncObj._SyncObj__sendAppendEntries(self)
        finally:
            for node in skipped:
                link = self._SyncObj__transport._connections.get(node)
                if link is not None and link.state == CONNECTION_STATE.CONNECTED:
                    connected.add(node)

    def _SyncObj__tryLogCompaction(self):  # PySyncObj's, keeping the last `compaction_keep()` entries
        serializer, now = self._SyncObj__serializer, raft_clock()
        state, serialized_id = serializer.checkSerializing()
        if state == SERIALIZER_STATE.SUCCESS:
            self._SyncObj__lastSerializedTime = now
            self._SyncObj__deleteEntriesTo(serialized_id)
            self._SyncObj__lastSerializedEntry = serialized_id
        if state != SERIALIZER_STATE.NOT_SERIALIZING:
            return
        conf, keep = self._SyncObj__conf, max(0, self.hooks.compaction_keep())
        if (
            len(self._SyncObj__raftLog) <= conf.logCompactionMinEntries + keep
            and now - self._SyncObj__lastSerializedTime <= conf.logCompactionMinTime
            and not self._SyncObj__forceLogCompaction
        ):
            return
        self._SyncObj__forceLogCompaction = False
        prev_and_last = self._SyncObj__getEntries(self.raftLastApplied - keep - 1, 2)
        if len(prev_and_last) < 2 or prev_and_last[0][1] == self._SyncObj__lastSerializedEntry:
            self._SyncObj__lastSerializedTime = now
            return
        prev, last = prev_and_last
        serializer.serialize((None, last, prev, self.hooks.configuration_at(last[1])), prev[1])

    def _SyncObj__onNodeConnected(self, node):  # a new link: nothing of the old one is in flight (the hooks forget it)
        self.hooks.on_link(node.id, True)
        SyncObj._SyncObj__onNodeConnected(self, node)

    def _SyncObj__onNodeDisconnected(self, node):  # likewise for a lost link
        self.hooks.on_link(node.id, False)
        SyncObj._SyncObj__onNodeDisconnected(self, node)

    # -- the view of PySyncObj's state -------------------------------------------------------------
    journal = property(lambda self: self._SyncObj__raftLog)  # our DurableJournal (journal.py)

    def log_first(self) -> tuple[int, int]:
        return self._SyncObj__raftLog[0][1:]

    def log_last(self) -> tuple[int, int]:
        return self._SyncObj__raftLog[-1][1:]

    def entry_term(self, index: int) -> int | None:
        log = self._SyncObj__raftLog
        position = index - log[0][1]
        return log[position][2] if 0 <= position < len(log) else None

    role = property(lambda self: ROLES.get(self._SyncObj__raftState, "follower"))
    leader_id = property(lambda self: leader.id if (leader := self._getLeader()) is not None else None)
    voted_for = property(lambda self: self._SyncObj__votedForNodeId)

    def is_leader(self) -> bool:
        return self._isLeader()

    def set_term(self, term: int, voted_for: str | None) -> None:
        """Persist a term and vote as PySyncObj does (through the journal's setCurrentTerm)."""
        self._SyncObj__setCurrentTerm(term, voted_for)

    election_deadline = property(  # when this node stands for election, on PySyncObj's clock (`raft_clock`)
        lambda self: self._SyncObj__raftElectionDeadline,
        lambda self, when: setattr(self, "_SyncObj__raftElectionDeadline", when),
    )

    def set_commit_index(self, index: int) -> None:
        self._SyncObj__raftCommitIndex = index
        self._SyncObj__raftLog.setRaftCommitIndex(index)

    def peers(self) -> list[str]:  # every other member: voters and learners
        return sorted(node.id for node in self._SyncObj__otherNodes | self._SyncObj__readonlyNodes)

    def _node(self, peer: str):  # None: not a member (any more)
        return next((n for n in self._SyncObj__otherNodes | self._SyncObj__readonlyNodes if n.id == peer), None)

    def set_members(self, voters: frozenset[str], learners: frozenset[str]) -> None:
        """PySyncObj counts `voters` (otherNodes) and replicates to `learners` (readonly nodes, never counted): it
        has no learners, and its own membership changes take effect on apply after a restart, not on append."""
        me, transport = self.selfNode.id, self._SyncObj__transport
        next_index, match_index = self._SyncObj__raftNextIndex, self._SyncObj__raftMatchIndex
        known = {node.id: node for node in self._SyncObj__otherNodes | self._SyncObj__readonlyNodes}
        wanted = (voters | learners) - {me}
        for node in [known.pop(peer) for peer in set(known) - wanted]:  # only the leader cuts a link: a follower
            next_index.pop(node, None), match_index.pop(node, None)  # keeps its links, the leader's among them
            if self.is_leader():
                transport.dropNode(node)
        for peer in wanted - set(known):
            node = known[peer] = self._SyncObj__nodeClass(peer)
            transport.addNode(node)
            next_index[node], match_index[node] = self.journal[-1][1] + 1, 0
            self._SyncObj__lastResponseTime[node] = raft_clock()
        self._SyncObj__otherNodes = {known[p] for p in voters - {me}}
        self._SyncObj__readonlyNodes = {known[p] for p in learners - {me}}

    def last_contact(self, peer: str) -> float | None:  # seconds since this leader heard from `peer` (else None)
        heard = self._SyncObj__lastResponseTime.get(self._node(peer))
        return None if heard is None or not self.is_leader() else max(0.0, raft_clock() - heard)

    def is_connected(self, peer: str) -> bool:
        return any(node.id == peer for node in self._SyncObj__connectedNodes)

    def next_index(self, peer: str) -> int | None:
        return self._SyncObj__raftNextIndex.get(self._node(peer))

    def set_next_index(self, peer: str, index: int) -> None:
        node = self._node(peer)
        if node is not None:
            self._SyncObj__raftNextIndex[node] = index

    def match_index(self, peer: str) -> int | None:
        return self._SyncObj__raftMatchIndex.get(self._node(peer))

    # -- acting ------------------------------------------------------------------------------------
    def send(self, peer: str, message: dict) -> bool:
        node = self._node(peer)
        return node is not None and self._SyncObj__transport.send(node, message)

    def send_next_index_hint(self, peer: str, index: int) -> None:
        """Tell the leader where to resume after a conflict (PySyncObj's own rejection message)."""
        self.send(peer, {"type": "next_node_idx", "next_node_idx": index, "reset": True, "success": False})

    def send_append_entries_now(self) -> None:
        self._SyncObj__sendAppendEntries()

    def wake(self) -> None:
        """Make the tick thread run now instead of at the end of its poll timeout."""
        if self._wake_pipe is not None:
            with contextlib.suppress(BlockingIOError):  # the pipe is full: a wake-up is already pending
                self._wake_pipe.notify()

    def prepare_tick_thread(self) -> None:
        """On the tick thread (PySyncObj's poller is not thread-safe): the wake-up pipe."""
        if self._wake_pipe is None:
            self._wake_pipe = PipeNotifier(self._poller)

    def drop_stuck_connects(self, timeout: float) -> None:
        """Drop connects pending over `timeout`: PySyncObj checks a link's timeout only on a socket event."""
        now = raft_clock()
        for conn in list(self._SyncObj__transport._connections.values()):
            started = getattr(conn, "_TcpConnection__lastReadTime", now)
            if conn.state == CONNECTION_STATE.CONNECTING and now - started > timeout:
                conn.disconnect()

    # -- driving the handlers without a network (tests) --------------------------------------------
    def receive(self, peer: str, message: dict) -> None:
        self._SyncObj__onMessageReceived(self._node(peer), message)

    def link_changed(self, peer: str, up: bool) -> None:
        handler = self._SyncObj__onNodeConnected if up else self._SyncObj__onNodeDisconnected
        handler(self._node(peer))

    def become_leader(self) -> None:
        self._SyncObj__onBecomeLeader()


_REGULAR = _syncobj_module._bchr(_syncobj_module._COMMAND_TYPE.REGULAR)  # the kind byte of a replicated call


def journaled_command(command: object, method_id: int = 0) -> bytes:
    """How PySyncObj journals a call of the replicated method `method_id` (apply_entry is 0) with `command`."""
    return _REGULAR + pickle.dumps((method_id, (command,)))


def command_of(entry: bytes) -> object:
    """The command a journal entry passes to apply_entry (None for any other kind): (method id, args[, kwargs])."""
    try:
        return pickle.loads(entry[1:])[1][0] if entry[:1] == _REGULAR else None
    except Exception:
        return None
