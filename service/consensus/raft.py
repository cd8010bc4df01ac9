"""The Raft node: PySyncObj (through pysyncobj_bridge.RaftCore) run by taskraft's policies.

RaftNode is the RaftCore's hooks object: every decision PySyncObj leaves open goes to one of the
policy objects here (replication, elections, links, hand-off, identity, snapshot hooks). Facts
this is built around (see docs/architecture.md):
  - apply runs on the tick thread, so `on_apply` only hands the entry to the applier's queue;
  - status is built on the tick thread and published as one immutable object;
  - the tick thread dies with the thread that created the SyncObj: `RaftRunner` owns that thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from .. import commands as c
from .. import metrics
from ..config import NodeConfig
from ..state.applier import Applier
from .elections import Elections, election_timeout_range
from .handoff import Handoff
from .identity import REPORT, Identity, PeerReport, raft_state_lost
from .links import Links
from .membership import Configuration
from .pysyncobj_bridge import RaftCore, SyncObjConf
from .read_index import CAPABILITY as READ_CAPABILITY
from .read_index import MESSAGES as READ_MESSAGES
from .read_index import ReadIndex
from .reconfigure import Reconfiguration
from .replication import Replication, applied_entry_conflict
from .snapshot_hooks import SnapshotHooks, finish_interrupted_compaction
from .status import RaftStatus, publish_metrics, status_from_pysyncobj

log = logging.getLogger(__name__)

Callback = Callable[[object, int], None]
LOG_EVERY = 5.0  # seconds between two log lines about the same refused peer or withheld vote


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


class RaftNode:
    def __init__(self, cfg: NodeConfig, applier: Applier, *, auto_tick: bool = True, database_cluster_id=None):
        self._cfg = cfg
        self._applier = applier
        self._status = RaftStatus(self_address=cfg.raft_advertise)
        self._contacts: dict[str, float | None] = {}
        self._leader_changes = 0
        self._last_leader: str | None = None
        self._handed_over = 0  # the last index given to the applier
        self._actions: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._logged: dict[tuple, float] = {}
        self.diverged: str | None = None  # set once: this node stops taking part and is rebuilt (node.py)
        self.replication = Replication()
        self.elections = Elections(cfg.timings)
        self.handoff = Handoff(self)
        self.links = Links(cfg.timings.connection_timeout, self._report)
        self.snapshots = SnapshotHooks(applier, str(cfg.snapshot_path))
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        journal, snapshot_file = str(cfg.journal_path), str(cfg.snapshot_path)
        lost = raft_state_lost(journal, journal + ".meta", snapshot_file)
        finish_interrupted_compaction(journal, snapshot_file)
        self.identity = Identity(
            cfg.raft_advertise,
            list(cfg.peers),
            str(cfg.identity_path),
            raft_state_lost=lost,
            recorded_id=cfg.cluster_id,
            database_id=database_cluster_id,
        )
        conf = build_conf(cfg, self.snapshots)
        conf.autoTick = auto_tick  # False only in tests that drive the handlers by hand, off the network
        self.core = RaftCore(cfg.raft_advertise, cfg.other_peers, conf, hooks=self)
        self.core.addOnTickCallback(self._on_tick)
        # The environment's peers seed a log that never held a configuration; the log's own wins once it has one.
        journal = self.core.journal
        seed = Configuration(frozenset(cfg.peers))
        self.reconfig = Reconfiguration(self.core, journal.configs, seed, cfg.node_id)
        journal.on_config_change = self._configuration_changed
        self._configuration_changed()
        self_id, vouch, voters = cfg.raft_advertise, self._may_vouch, lambda: self.reconfig.current.voters
        self.reads = ReadIndex(self.core, applier.progress, self_id, voters, vouch, self.run_on_tick, self.wake)
        for peer in cfg.other_peers:  # every series exists from the start, so increase() sees the first refusal
            metrics.RAFT_FOREIGN_MESSAGES.labels(peer=peer)

    # -- called from other threads ---------------------------------------------------------------

    def propose(self, command: dict, callback: Callback) -> None:
        """Queue `command` for the leader; `callback(index, error)` runs on the tick thread."""
        self.core.apply_entry(command, callback=callback)
        self.wake()

    def wake(self) -> None:
        self.core.wake()

    @property
    def status(self) -> RaftStatus:
        return self._status

    def last_contacts(self) -> dict[str, float | None]:
        """Seconds since this leader last heard from each peer (empty unless this node leads)."""
        return self._contacts

    def run_on_tick(self, action: Callable[[], None]) -> None:
        self._actions.put(action)

    def hand_off_leadership(self, timeout: float) -> bool:
        return self.handoff.run(timeout)

    def destroy(self) -> None:
        self.core.destroy()

    # -- RaftHooks (tick thread) -----------------------------------------------------------------

    def attach(self, core: RaftCore) -> None:
        self.core = self.replication.core = self.elections.core = self.links.core = core

    def on_apply(self, index: int, term: int, command) -> None:
        if self.identity.cluster_id is None:  # the first one in the log counts, as in the state machine
            cluster_id = c.cluster_id_of(command)
            if cluster_id:
                self.identity.adopt(cluster_id)
        self._applier.enqueue_entry(index, term, command)
        self._handed_over = index

    def admit(self, peer: str, message: dict) -> bool:
        kind = message.get("type")
        if kind == REPORT:
            report = PeerReport.from_message(message)
            self.reads.note_report(peer, message)
            if report is not None:
                self.identity.on_report(peer, report)
                self.elections.note_report(peer, report.term, report.commit_index)
            return False
        identity = self.identity
        if identity.conflict or identity.is_foreign(peer):
            metrics.RAFT_FOREIGN_MESSAGES.labels(peer=peer).inc()
            self._log_once(
                ("foreign", peer),
                logging.ERROR,
                "identity: refusing Raft traffic from %s: it holds another cluster id than ours (%s)",
                peer,
                identity.cluster_id or identity.recorded_id,
            )
            return False
        if kind == "request_vote" and peer not in self.reconfig.current.voters:
            # A server outside our newest configuration (one that was removed, and does not know it) gets no
            # vote: it cannot disrupt the cluster with elections (hashicorp/raft refuses it likewise).
            self._log_once(("outsider", peer), logging.INFO, "membership: vote refused to non-voter %s", peer)
            return False
        current = message.get("term", 0) >= self.core.raftCurrentTerm  # what PySyncObj will not discard
        if self.diverged is None and kind == "append_entries" and "prevLogIdx" in message and current:
            self._check_applied_entries(message)
        if self.diverged is not None:
            return False
        if kind in READ_MESSAGES:
            self.reads.on_message(peer, message)
            return False
        if kind == "apply_command" and self.handoff.holding_writes():
            return False  # a hand-off is under way; the sender proposes it again to the next leader
        if identity.amnesiac:
            return self._admit_while_amnesiac(peer, kind, message)
        return True

    def _check_applied_entries(self, message: dict) -> None:
        reason = applied_entry_conflict(self.core, message)
        if reason is not None:
            self.diverged = reason
            log.critical("raft: %s; this node stops applying and rebuilds from the leader", reason)

    def _admit_while_amnesiac(self, peer: str, kind, message: dict) -> bool:
        if kind == "timeout_now":
            return False
        if kind == "request_vote":
            why = self.identity.vote_refusal(peer, message["term"], message["last_log_index"], message["last_log_term"])
            if why:
                self._log_once(("vote", peer, why), logging.INFO, "identity: vote withheld from %s: %s", peer, why)
            return why is None
        if kind == "append_entries":
            floor = self.identity.term_floor()
            if floor is None:
                return False
            if self.core.raftCurrentTerm < floor:  # as if voted in it: no second vote in a term we may have voted in
                self.core.set_term(floor, self.identity.self_id)
        return True

    def _may_vouch(self) -> bool:  # for a term, in read-index rounds (read_index.py)
        return not self.identity.amnesiac and self.diverged is None

    def hold_commands(self) -> bool:
        return self.handoff.holding_writes()

    def may_stand(self) -> bool:
        """Only a voter stands; neither an amnesiac node (identity.py, rule 1) nor a diverged one, nor one whose
        log lacks entries a peer reports committed (elections.py)."""
        voter = self._cfg.raft_advertise in self.reconfig.current.voters
        if not voter or self.identity.amnesiac or self.diverged is not None:
            return False
        return not self.elections.behind(self.core.log_last()[0], self.core.raftCurrentTerm)

    def _configuration_changed(self) -> None:
        """The newest configuration in the log changed (on append, truncation or snapshot install)."""
        config = self.reconfig.current
        self.core.set_members(config.voters, config.learners)
        self.identity.set_voters(config.voters)
        log.info("membership: voters %s, learners %s", sorted(config.voters), sorted(config.learners))

    def configuration_at(self, index: int) -> dict:
        entry_index, config = self.core.journal.configs.at(index)
        return {"index": entry_index, "configuration": config.as_dict() if config is not None else None}

    def hello(self, peer: str) -> dict:
        return self._report()

    def conflict_hint(self, peer: str, message: dict) -> int | None:
        return self.replication.conflict_hint(message["prevLogIdx"], message["prevLogTerm"])

    def after_append(self, peer: str, message: dict, hint: int | None) -> None:
        if self.core.leader_id != peer:
            return
        if hint is not None:
            self.replication.send_hint(peer, message["term"], hint)
        if self.identity.amnesiac:
            self.identity.note_contact(peer, message["term"], message["commit_index"])
        else:
            self.identity.took_part()

    def settle_next_index(self, peer: str, message: dict, before: int, after: int) -> int:
        return self.replication.settle_next_index(peer, message, before, after)

    def after_vote_request(self, peer: str, message: dict) -> None:
        self.elections.after_vote_request(message)
        if self.core.voted_for == peer:
            self.identity.took_part()

    def on_link(self, peer: str, up: bool) -> None:
        self.replication.forget(peer)

    def on_snapshot_installed(self, peer: str) -> None:
        leader_id = self.identity.reported_cluster_id(peer)
        if leader_id:
            self.identity.adopt(leader_id)
        base = self.snapshots.installed_configuration
        if isinstance(base, dict) and base.get("configuration"):
            self.core.journal.set_config_base(int(base["index"]), Configuration.from_dict(base["configuration"]))

    def snapshot_ready(self) -> bool:
        return self.snapshots.snapshot_ready()

    def compaction_keep(self) -> int:
        return self._cfg.timings.compaction_keep_entries

    # -- the tick ----------------------------------------------------------------------------------

    def _report(self) -> dict:
        core = self.core
        last_index, last_term = core.log_last()
        identity, term, commit = self.identity, core.raftCurrentTerm, core.raftCommitIndex
        report = PeerReport(identity.cluster_id, term, last_index, last_term, commit, identity.amnesiac)
        return report.message() | READ_CAPABILITY

    def _log_once(self, key: tuple, level: int, message: str, *args) -> None:
        now = time.monotonic()
        if now - self._logged.get(key, -LOG_EVERY) >= LOG_EVERY:
            self._logged[key] = now
            log.log(level, message, *args)

    def _on_tick(self) -> None:
        core = self.core
        core.prepare_tick_thread()
        self.links.on_tick()
        if self.identity.amnesiac:
            commit = core.raftCommitIndex
            self.identity.check_cured(core.raftCurrentTerm, commit, core.entry_term(commit))
        if core.is_leader():
            duty = self.reconfig.duty(formed=self.identity.cluster_id is not None)
            if duty is not None:
                core.apply_entry(duty)
            if self._cfg.timings.eager_append:
                self.replication.send_new_entries()
        while True:
            try:
                action = self._actions.get_nowait()
            except queue.Empty:
                break
            try:
                action()
            except Exception:
                log.exception("action on the Raft thread failed")
        self._hand_over_no_ops()
        self.reads.on_tick()
        self._publish(core.getStatus())

    def _hand_over_no_ops(self) -> None:
        """PySyncObj applies no-op entries (one per election) without apply_entry: the applier gets them as barriers, so
        it reaches a no-op's read index (read_index.py). An install is queued before it moves raftLastApplied."""
        last = self.core.raftLastApplied
        if last > self._handed_over:
            self._applier.enqueue_entry(last, self.core.entry_term(last) or 0, c.BARRIER)
            self._handed_over = last

    def _publish(self, raw: dict) -> None:
        leader = raw.get("leader")
        leader = leader.id if leader is not None else None
        if leader is not None and leader != self._last_leader:
            if self._last_leader is not None:
                self._leader_changes += 1
                metrics.RAFT_LEADER_CHANGES.inc()
            self._last_leader = leader
        can_vote, withheld = self.identity.voting()
        status = status_from_pysyncobj(
            raw,
            self._cfg.raft_advertise,
            self.core.peers(),
            self._leader_changes,
            can_vote=can_vote,
            vote_withheld=withheld,
            cluster_id=self.identity.cluster_id,
            configuration=self.reconfig.current,
        )
        # Kept beside the status, not in it: the time since each peer answered changes every tick, and
        # the status (and the metrics set from it) is republished only when something else changes.
        core = self.core
        self._contacts = {peer: core.last_contact(peer) for peer in core.peers()} if core.is_leader() else {}
        if status.role != self._status.role or status.term != self._status.term:
            log.info("raft: %s at term %d (leader %s)", status.role, status.term, status.leader)
        if status != self._status:
            self._status = status
            publish_metrics(status)


class RaftRunner:
    """Owns the thread that creates the SyncObj and lives as long as the node (PySyncObj requires it)."""

    def __init__(self, cfg: NodeConfig, applier: Applier, database_cluster_id: str | None = None):
        self._cfg = cfg
        self._applier = applier
        self._database_cluster_id = database_cluster_id
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
        assert self.node is not None
        return self.node

    def _run(self) -> None:
        try:
            self.node = RaftNode(self._cfg, self._applier, database_cluster_id=self._database_cluster_id)
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._stop.wait()
        self.node.core.destroy_synchronous()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
