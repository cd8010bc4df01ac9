"""The Raft node: a PySyncObj SyncObj whose only replicated method hands committed entries to the applier.

Facts about PySyncObj 0.3.17 this class is built around (see docs/architecture.md):
  - the entry being applied has index raftLastApplied + 1; its term is only in the private journal;
  - apply runs on the tick thread, so `apply_entry` only enqueues, it never touches MySQL;
  - getStatus() takes no lock, so status is built on the tick thread and published as one object;
  - the tick thread dies with the thread that created the SyncObj: `RaftRunner` owns that thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

import pysyncobj.syncobj as _syncobj_module
from pysyncobj import FAIL_REASON, SyncObj, SyncObjConf, replicated
from pysyncobj.config import SERIALIZER_STATE
from pysyncobj.journal import MemoryJournal
from pysyncobj.pipe_notifier import PipeNotifier
from pysyncobj.serializer import Serializer
from pysyncobj.monotonic import monotonic as raft_clock
from pysyncobj.syncobj import _RAFT_STATE
from pysyncobj.tcp_connection import CONNECTION_STATE

from .. import metrics
from ..config import NodeConfig
from ..state.applier import Applier
from .journal import DurableJournal
from .snapshot_hooks import SnapshotHooks, finish_interrupted_compaction
from .status import ROLES, RaftStatus, status_from_pysyncobj

log = logging.getLogger(__name__)


def _create_journal(path=None):
    return DurableJournal(path) if path else MemoryJournal()


# PySyncObj builds its journal through this module-level factory; ours fsyncs (see journal.py).
_syncobj_module.createJournal = _create_journal


class _SeedingSerializer(Serializer):
    """PySyncObj's Serializer; before it streams the snapshot file to a follower, our hooks make it a full dump.

    Installed as the class PySyncObj builds (like the journal above), so no tick can stream a
    compaction marker before the hooks are in place. See SnapshotHooks.transmission_data.
    """

    def getTransmissionData(self, transmissionID):
        hooks = getattr(self._Serializer__serializer, "__self__", None)
        if not isinstance(hooks, SnapshotHooks):
            return Serializer.getTransmissionData(self, transmissionID)
        return hooks.transmission_data(lambda tid: Serializer.getTransmissionData(self, tid), transmissionID)


_syncobj_module.Serializer = _SeedingSerializer

Callback = Callable[[object, int], None]

# A message PySyncObj does not know, sent on every link that carries nothing else (see _keep_links_alive).
LINK_PING = "taskraft_link_ping"


def election_timeout_range(cfg: NodeConfig) -> tuple[float, float]:
    """This node's election timeout range: its own slice of [min, max] when ranked, else all of it.

    With one shared range, the two followers a dead leader leaves behind time out within a few
    milliseconds of each other now and then (about one failover in 25 with 0.5-1.0 s); both stand,
    each votes for itself, and the election costs another timeout. With disjoint slices taken in
    peer-list order (the same list on every node), they time out in a known order, a slice apart
    at the closest, and the first one's vote request arrives long before the second would stand.
    Only liveness depends on this: Raft's vote rules keep elections safe whatever the timeouts.
    """
    t = cfg.timings
    low, high = t.raft_min_timeout, t.raft_max_timeout
    if not t.ranked_election_timeouts or cfg.raft_advertise not in cfg.peers or len(cfg.peers) < 2:
        return low, high
    width = (high - low) / len(cfg.peers)
    rank = cfg.peers.index(cfg.raft_advertise)
    return low + rank * width, low + (rank + 1) * width


def build_conf(cfg: NodeConfig, hooks: SnapshotHooks) -> SyncObjConf:
    t = cfg.timings
    election_low, election_high = election_timeout_range(cfg)
    return SyncObjConf(
        password=cfg.raft_secret or None,
        bindAddress=cfg.raft_bind,
        autoTick=True,
        autoTickPeriod=t.auto_tick_period,
        appendEntriesPeriod=t.append_entries_period,
        raftMinTimeout=election_low,
        raftMaxTimeout=election_high,
        leaderFallbackTimeout=t.leader_fallback_timeout,
        connectionTimeout=t.connection_timeout,
        connectionRetryTime=t.connection_retry_time,
        dnsCacheTime=t.dns_cache_time,
        dnsFailCacheTime=t.dns_fail_cache_time,
        logCompactionMinEntries=t.log_compaction_min_entries,
        logCompactionMinTime=t.log_compaction_min_time,
        journalFile=str(cfg.journal_path),
        fullDumpFile=str(cfg.snapshot_path),
        serializer=hooks.serialize,
        deserializer=hooks.deserialize,
        serializeChecker=hooks.check,
        appendEntriesUseBatch=True,
        commandsWaitLeader=True,
    )


class RaftNode(SyncObj):
    def __init__(self, cfg: NodeConfig, applier: Applier, *, auto_tick: bool = True):
        # Everything the tick thread may touch must exist before SyncObj.__init__ starts it.
        self._cfg = cfg
        self._applier = applier
        self._status = RaftStatus(self_address=cfg.raft_advertise)
        self._leader_changes = 0
        self._last_leader = None
        self._actions: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._peers = list(cfg.other_peers)
        self._wake: PipeNotifier | None = None  # created on the tick thread (the poller is not thread-safe)
        self._sent_upto = (0, 0)  # (last log index, commit index) the followers were last sent
        self._last_hint: tuple | None = None  # the last conflict hint sent, and when
        self._last_hint_at = 0.0
        self._rewound_to: dict = {}  # peer -> (term, index) nextIndex was last moved back to on its rejection
        self._last_connect_check = 0.0
        self._last_link_ping = 0.0
        self._holding_writes = False  # during a leadership hand-off: append nothing new
        self._handoff_lock = threading.Lock()
        hooks = self._hooks = SnapshotHooks(applier, str(cfg.snapshot_path))
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        finish_interrupted_compaction(str(cfg.journal_path), str(cfg.snapshot_path))
        conf = build_conf(cfg, hooks)
        conf.autoTick = auto_tick  # False only in tests that drive the handlers by hand, off the network
        super().__init__(cfg.raft_advertise, self._peers, conf)
        self.addOnTickCallback(self._on_tick)

    # -- the replicated method (tick thread) -----------------------------------------------------

    @replicated
    def apply_entry(self, command):
        index = self.raftLastApplied + 1
        journal = self._SyncObj__raftLog
        term = journal[index - journal[0][1]][2]
        self._applier.enqueue_entry(index, term, command)
        return index

    # -- called from other threads ---------------------------------------------------------------

    def propose(self, command: dict, callback: Callback) -> None:
        """Queue `command` for the leader; `callback(index, error)` runs on the tick thread."""
        self.apply_entry(command, callback=callback)
        self.wake()

    def wake(self) -> None:
        """Make the tick thread run now instead of at the end of its poll timeout."""
        wake = self._wake
        if wake is not None:
            try:
                wake.notify()
            except BlockingIOError:
                pass  # the pipe is full: a wake-up is already pending

    @property
    def status(self) -> RaftStatus:
        return self._status

    def run_on_tick(self, action: Callable[[], None]) -> None:
        self._actions.put(action)

    def hand_off_leadership(self, timeout: float) -> bool:
        """If leader, transfer leadership to a caught-up follower and wait until it has moved.

        As in the Raft thesis (3.10), the leader appends nothing new meanwhile: its own queued
        commands wait, and commands forwarded by followers are dropped (their senders propose them
        again to the next leader). So a follower is fully caught up within one round trip, and
        PySyncObj's transfer, which refuses a target that lacks the last entry, goes through at
        the first or second attempt instead of racing a stream of new entries.
        """
        with self._handoff_lock:  # SIGTERM starts one; the node's stop may ask again meanwhile
            if not self._status.is_leader:
                return True
            started = time.monotonic()
            progress = {"refused": 0, "timeout_now_at": None}
            moved = self._hand_off(started + timeout, progress)
            sent = progress["timeout_now_at"]
            if not moved:
                outcome = "NOT handed off"
            elif sent is None:
                outcome = "lost without a transfer (no follower was reachable and caught up)"
            else:
                outcome = "handed off"
            log.info(
                "raft: leadership %s after %.3f s (%d transfer attempts refused; TimeoutNow sent at %s)",
                outcome,
                time.monotonic() - started,
                progress["refused"],
                "-" if sent is None else f"{sent - started:.3f} s",
            )
            return moved

    def _hand_off(self, deadline: float, progress: dict) -> bool:
        self._holding_writes = True
        try:
            while time.monotonic() < deadline:
                if not self._status.is_leader:
                    return True
                answer: queue.SimpleQueue = queue.SimpleQueue()
                self.run_on_tick(lambda: self.transferLeadership(callback=lambda _r, err: answer.put(err)))
                self.wake()
                try:
                    error = answer.get(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    continue
                if error != FAIL_REASON.SUCCESS:
                    progress["refused"] += 1
                    # The target lacks the last entries: they are on their way (nothing new is being
                    # appended), and its acknowledgement is usually back within a millisecond or two.
                    time.sleep(0.002)
                    continue
                progress["timeout_now_at"] = time.monotonic()
                moved_by = min(deadline, time.monotonic() + 0.5)  # TimeoutNow sent: an election follows
                while time.monotonic() < moved_by:
                    if not self._status.is_leader:
                        return True
                    time.sleep(0.005)
            return not self._status.is_leader
        finally:
            self._holding_writes = False
            self.wake()  # commands held back go out (to the new leader if there is one)

    def _handing_off(self) -> bool:
        return self._holding_writes and self._isLeader()

    def _checkCommandsToApply(self):
        if self._handing_off():
            return  # a hand-off is under way (hand_off_leadership)
        SyncObj._checkCommandsToApply(self)

    # -- tick thread -------------------------------------------------------------------------------

    def _SyncObj__onMessageReceived(self, node, message):
        """PySyncObj's handler, with nextIndex never moved back by stale answers, and conflict hints.

        In batch mode the leader advances nextIndex when it SENDS entries. An acknowledgement of an
        older message would move it back, and the next append would resend entries the follower has;
        PySyncObj's follower then truncates everything after prevLogIdx without checking terms (the
        "truncating already-applied log entries" warning), which with size-limited batches can drop
        entries it already acknowledged. Never moving nextIndex back on success removes the overlap;
        the failure path (reset) is untouched.
        """
        if message.get("type") == LINK_PING:
            return  # it has done its job by being read (see _keep_links_alive)
        if message.get("type") == "apply_command" and self._handing_off():
            return  # a hand-off is under way; the sender proposes it again to the next leader
        if message.get("type") == "append_entries" and "prevLogIdx" in message and "transmission" not in message:
            hint = self._conflict_hint(message["prevLogIdx"], message["prevLogTerm"])
            SyncObj._SyncObj__onMessageReceived(self, node, message)
            if hint is not None and self._getLeader() == node:
                # every in-flight append gets rejected; one hint per conflict is enough (a repeat
                # would send the leader back after it already resent from there)
                key = (node, message["term"], hint)
                if key != self._last_hint or time.monotonic() - self._last_hint_at > 1.0:
                    self._last_hint, self._last_hint_at = key, time.monotonic()
                    self._SyncObj__transport.send(
                        node, {"type": "next_node_idx", "next_node_idx": hint, "reset": True, "success": False}
                    )
            return
        if message.get("type") == "append_entries" and "prevLogIdx" not in message:
            self._receive_snapshot_message(node, message)
            return
        if message.get("type") == "request_vote":
            self._receive_vote_request(node, message)
            return
        if message.get("type") == "next_node_idx":
            if message.get("success"):
                self._rewound_to.pop(node, None)  # it took an append: its next rejection is news
            next_index = self._SyncObj__raftNextIndex
            before = next_index.get(node)
            SyncObj._SyncObj__onMessageReceived(self, node, message)
            after = next_index.get(node)
            if before is None or after is None or after == before:
                return
            if after > before:
                if message.get("reset") and not message.get("success"):
                    # a rejection of an older, further-ahead message: it would undo a move back
                    # (and ping-pong with the conflict hint); going forward needs a success
                    next_index[node] = before
                return
            if message.get("success") and not message.get("reset"):
                next_index[node] = before  # an older acknowledgement: do not resend what is in flight
                return
            # A rejection may move nextIndex back, even below matchIndex: a wiped or restarted
            # follower can hold less than it once acknowledged, and must be sent what it lacks.
            # But a follower behind us rejects EVERY append that was in flight, and acting on the
            # first rejection is enough: we resend from there, so the others arrive stale. Moving
            # back again for each of them sent the follower the same entries once per rejection
            # (PySyncObj's follower then truncates and re-adds entries it has already applied),
            # and the first commit after a leader change waited for those copies. Our resend from
            # `t` can only be answered by a success or by a rejection naming an index below `t`,
            # so until a success, a rejection naming `t` or more is one of the stale ones.
            term, rewound = self._rewound_to.get(node, (None, None))
            if term == self.raftCurrentTerm and after >= rewound:
                next_index[node] = before
                return
            self._rewound_to[node] = (self.raftCurrentTerm, after)
            self._sent_upto = None  # resend from there at the next tick, not at the next heartbeat
            return
        SyncObj._SyncObj__onMessageReceived(self, node, message)

    def _SyncObj__sendAppendEntries(self):
        """PySyncObj's, except that a follower waiting for a snapshot dump gets one heartbeat per round.

        For a follower behind the compacted log, PySyncObj asks the serializer for the next chunk
        of the snapshot file, and while there is none (our dump of the tables is being written,
        see SnapshotHooks) it asks again and sends an empty snapshot message, in a loop, for a
        whole appendEntriesPeriod of every round: the tick thread spun for as long as the dump took,
        taking the interpreter from the dump itself. The follower only needs a heartbeat meanwhile,
        so that it does not stand for election: it gets one, and PySyncObj's loop skips it.
        """
        waiting = self._followers_waiting_for_a_dump()
        if not waiting:
            SyncObj._SyncObj__sendAppendEntries(self)
            return
        transport = self._SyncObj__transport
        heartbeat = {
            "type": "append_entries",
            "term": self.raftCurrentTerm,
            "commit_index": self.raftCommitIndex,
            "serialized": None,
        }
        connected = self._SyncObj__connectedNodes
        skipped = [node for node in waiting if transport.send(node, heartbeat)]
        for node in skipped:
            connected.discard(node)
        try:
            SyncObj._SyncObj__sendAppendEntries(self)
        finally:
            for node in skipped:
                link = getattr(transport, "_connections", {}).get(node)
                if link is not None and link.state == CONNECTION_STATE.CONNECTED:
                    connected.add(node)

    def _SyncObj__tryLogCompaction(self):
        """PySyncObj's log compaction, except that the last `compaction_keep_entries` applied entries stay.

        PySyncObj compacts up to the last applied entry, so a follower away for a second (a SIGTERM
        restart under load) often came back behind the leader's log and had to be seeded with a dump
        of the whole database: a minute with 450,000 tasks, for a few hundred entries. As etcd does,
        the snapshot is taken that many entries back instead. Its state index is still the database's
        (at or past the snapshot: SnapshotHooks writes a marker), and whoever loads it skips the
        entries it already holds, as on any replay. Only what PySyncObj does for our configuration
        (a custom serializer, no split compaction) is kept.
        """
        serializer = self._SyncObj__serializer
        now = raft_clock()
        state, serialized_id = serializer.checkSerializing()
        if state == SERIALIZER_STATE.SUCCESS:
            self._SyncObj__lastSerializedTime = now
            self._SyncObj__deleteEntriesTo(serialized_id)
            self._SyncObj__lastSerializedEntry = serialized_id
        elif state == SERIALIZER_STATE.FAILED:
            log.warning("raft: log compaction failed; it will be tried again")
        if state != SERIALIZER_STATE.NOT_SERIALIZING:
            return
        conf = self._SyncObj__conf
        keep = max(0, self._cfg.timings.compaction_keep_entries)
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
        cluster = self._SyncObj__otherNodes | {self._SyncObj__selfNode}
        prev, last = prev_and_last
        serializer.serialize((None, last, prev, cluster), prev[1])

    def _followers_waiting_for_a_dump(self) -> list:
        first = self._SyncObj__raftLog[0][1]
        behind = [
            node
            for node, next_index in self._SyncObj__raftNextIndex.items()
            if next_index <= first and node in self._SyncObj__connectedNodes
        ]
        if not behind or self._hooks.snapshot_ready():
            return []
        return behind

    def _SyncObj__onNodeConnected(self, node):
        self._rewound_to.pop(node, None)  # a new connection: nothing of the old one is in flight
        SyncObj._SyncObj__onNodeConnected(self, node)

    def _SyncObj__onNodeDisconnected(self, node):
        self._rewound_to.pop(node, None)
        SyncObj._SyncObj__onNodeDisconnected(self, node)

    def _receive_vote_request(self, node, message) -> None:
        """PySyncObj's vote handling; then, if we refused a candidate whose log is behind ours, stand soon.

        Under write load one follower is often an entry or two behind the other when the leader
        dies. If the one behind times out first, its candidacy is refused (its log is not up to
        date) and the one ahead only stands at its own election timeout, up to a whole timeout later.
        Having refused such a candidate, we stand after `stand_after_refusing` seconds unless a
        leader's heartbeat comes first (PySyncObj restarts the election timer on every one): the
        candidate may still win with another node's vote. Only when an election starts changes,
        so the vote rules, and safety, are PySyncObj's as before.
        """
        SyncObj._SyncObj__onMessageReceived(self, node, message)
        delay = self._cfg.timings.stand_after_refusing
        if delay <= 0 or message.get("term", 0) < self.raftCurrentTerm or self._getLeader() is not None:
            return
        if self._SyncObj__raftState != _RAFT_STATE.FOLLOWER:
            return
        _command, last_index, last_term = self._SyncObj__raftLog[-1]
        if (message["last_log_term"], message["last_log_index"]) >= (last_term, last_index):
            return  # not behind us: granted, or refused for having voted already
        soon = raft_clock() + delay  # the clock of PySyncObj's election deadline
        if self._SyncObj__raftElectionDeadline > soon:
            self._SyncObj__raftElectionDeadline = soon

    def _receive_snapshot_message(self, node, message) -> None:
        """A part of a snapshot transfer: it may install the snapshot, never commit our own entries.

        These messages carry no prevLogIdx, so nothing in them proves that our log matches the
        leader's. PySyncObj still raises the commit index to min(leader's commit, our last index)
        after every append_entries. A node that led alone behind a partition holds entries nobody
        else has; while the new leader streams it a snapshot, that rule committed and applied them,
        and their clients were told "ok" for writes the cluster then discarded (found by the long
        fault run: two linearizability violations). Only a snapshot actually installed may move the
        commit index here, up to the snapshot's index.
        """
        journal = self._SyncObj__raftLog
        commit_before = self.raftCommitIndex
        log_before = (len(journal), journal[0], journal[-1])
        SyncObj._SyncObj__onMessageReceived(self, node, message)
        installed = (len(journal), journal[0], journal[-1]) != log_before
        if not installed and self.raftCommitIndex > commit_before:
            self._SyncObj__raftCommitIndex = commit_before
            journal.setRaftCommitIndex(commit_before)

    def _conflict_hint(self, prev_index: int, prev_term: int) -> int | None:
        """Where the leader should resume when our entry at prev_index has another term.

        PySyncObj answers a conflict with prev_index itself, so a leader walks back one entry per
        round trip: a node that led alone for a while and collected entries nobody committed took
        tens of seconds to catch up. As in the Raft paper's optimisation, point the leader to the
        first entry of the conflicting term instead (never below our commit index + 1).
        """
        log = self._SyncObj__raftLog
        first, last = log[0][1], log[-1][1]
        if not first < prev_index <= last:
            return None
        conflict_term = log[prev_index - first][2]
        if conflict_term == prev_term:
            return None
        index = prev_index
        while index - 1 > first and log[index - 1 - first][2] == conflict_term:
            index -= 1
        hint = max(index, self.raftCommitIndex + 1, first + 1)
        return hint if hint < prev_index else None

    def _expire_stuck_connects(self) -> None:
        """Drop outgoing connects that have been pending longer than the connection timeout.

        PySyncObj checks its connection timeout only when the socket has an event. A connect to an
        address where nothing answers any more (a pod that came back under a new IP) has none until
        the kernel gives up on the SYN, about two minutes later; meanwhile the peer is unreachable
        even though its name already resolves to the new address. Dropping the attempt lets
        PySyncObj retry, resolving the name again.
        """
        now = raft_clock()  # the clock PySyncObj stamps its connections with
        if now - self._last_connect_check < 0.5:
            return
        self._last_connect_check = now
        timeout = self._cfg.timings.connection_timeout
        for conn in list(getattr(self._SyncObj__transport, "_connections", {}).values()):
            started = getattr(conn, "_TcpConnection__lastReadTime", now)
            if conn.state == CONNECTION_STATE.CONNECTING and now - started > timeout:
                conn.disconnect()

    def _keep_links_alive(self) -> None:
        """Send a small message to every peer, often enough that no link looks dead when it is idle.

        PySyncObj drops a connection on which nothing was READ for connectionTimeout, and checks that
        only when it sends. Two followers send each other nothing while a leader is alive, so when the
        leader died, the first candidate's vote request found its link to the other follower "timed
        out": the connection was dropped with the request in it, the other follower timed out on its
        own and a split vote followed. Failover took 1.3 to 1.8 s instead of one election timeout.
        Every link now carries a ping per period; the receiving side reads it and ignores it.
        """
        now = raft_clock()
        period = min(0.5, self._cfg.timings.connection_timeout / 4)
        if now - self._last_link_ping < period:
            return
        self._last_link_ping = now
        transport = self._SyncObj__transport
        for peer in self._SyncObj__otherNodes:
            transport.send(peer, {"type": LINK_PING})

    def _on_tick(self) -> None:
        self._expire_stuck_connects()
        self._keep_links_alive()
        if self._wake is None:
            self._wake = PipeNotifier(self._poller)
        if self._cfg.timings.eager_append and self._isLeader():
            # Send new entries and a new commit index at once rather than at the next heartbeat:
            # that is the difference between a 2 ms and a 20-40 ms commit.
            upto = (self._SyncObj__raftLog[-1][1], self.raftCommitIndex)
            if upto != self._sent_upto:
                self._sent_upto = upto
                self._SyncObj__sendAppendEntries()
        while True:
            try:
                action = self._actions.get_nowait()
            except queue.Empty:
                break
            try:
                action()
            except Exception:
                log.exception("action on the Raft thread failed")
        raw = self.getStatus()
        leader = raw.get("leader")
        if leader is not None and leader != self._last_leader:
            if self._last_leader is not None:
                self._leader_changes += 1
                metrics.RAFT_LEADER_CHANGES.inc()
            self._last_leader = leader
        status = status_from_pysyncobj(raw, self._cfg.raft_advertise, self._peers, self._leader_changes)
        if status.role != self._status.role or status.term != self._status.term:
            log.info("raft: %s at term %d (leader %s)", status.role, status.term, status.leader)
        if status != self._status:
            self._status = status
            _publish_metrics(status)


def _publish_metrics(status: RaftStatus) -> None:
    metrics.RAFT_TERM.set(status.term)
    metrics.RAFT_COMMIT_INDEX.set(status.commit_index)
    for role in ROLES.values():
        metrics.RAFT_STATE.labels(state=role).set(1 if status.role == role else 0)
    metrics.RAFT_IS_LEADER.set(1 if status.is_leader else 0)
    metrics.RAFT_PEERS_CONNECTED.set(status.peers_connected)


class RaftRunner:
    """Owns the thread that creates the SyncObj and lives as long as the node (PySyncObj requires it)."""

    def __init__(self, cfg: NodeConfig, applier: Applier):
        self._cfg = cfg
        self._applier = applier
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.node: RaftNode | None = None
        self._thread = threading.Thread(target=self._run, name="taskraft-raft-owner", daemon=True)

    def start(self, timeout: float = 30.0) -> RaftNode:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("Raft node did not start")
        if self._error is not None:
            raise self._error
        return self.node

    def _run(self) -> None:
        try:
            self.node = RaftNode(self._cfg, self._applier)
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._stop.wait()
        self.node.destroy_synchronous()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
