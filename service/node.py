"""The composition root: one taskraft node = database + applier + Raft + proposals, started in order."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time

from dbutils.pooled_db import PooledDB
from tenacity import Retrying, retry_if_exception_type, wait_fixed

from . import commands as c
from . import rebuild, restore
from .cluster_formation import Formation
from .config import NodeConfig
from .consensus.cluster_record import FileRecord, open_record
from .consensus.proposals import EntryBatcher, Proposer, ReadBarrier, Unavailable
from .consensus.raft import RaftNode, RaftRunner
from .consensus.read_index import ReadIndex
from .state import queries, recorded
from .state.applier import Applier
from .state.db import TRANSIENT_ERRORS, connect, read_pool, wait_for_database
from .state.machine import OpResult
from .state.schema import migrate
from .transport import scheme

log = logging.getLogger(__name__)

MAX_READY_LAG = 100  # entries between commit index and applied index that still count as caught up
REBUILD_EXIT = 70  # the worker's exit status when it restarts to be rebuilt (not 3 or 4: gunicorn would halt)
# pooled read connections; more HTTP threads than this wait for one (MySQL 8.4 allows 151 by default)
READ_POOL_MAX = 32


class Diverged(Exception):
    """This node's database diverged from the cluster's log; it is being rebuilt."""


class TaskraftNode:
    # Made by start(), in this order, and used only once `started` (the API, the threads start() starts).
    applier: Applier
    _runner: RaftRunner
    raft: RaftNode
    pool: PooledDB
    proposer: Proposer
    barrier: ReadBarrier | ReadIndex

    def __init__(self, cfg: NodeConfig):
        self.cfg = cfg
        self.started = False
        self.formation: Formation | None = None
        self.diverged: str | None = None
        self._stop = threading.Event()

    @property
    def api_url(self) -> str:
        host = self.cfg.raft_advertise.rpartition(":")[0]
        return self.cfg.api_url or f"{scheme(self.cfg.tls)}://{host}:{self.cfg.http_port}"

    def start(self, db_timeout: float = 300.0) -> TaskraftNode:
        cfg = self.cfg
        log.info("node %s: waiting for MySQL", cfg.node_id)
        wait_for_database(cfg.mysql, db_timeout)
        record = open_record(cfg.cluster_record, cfg.pod_namespace, cfg.statefulset)
        if cfg.cluster_id is None and isinstance(record, FileRecord):
            self.cfg = cfg = dataclasses.replace(cfg, cluster_id=record.read())  # a ConfigMap comes in the env
        conn = connect(cfg.mysql)
        try:
            migrate(conn)
            rebuild.reset_database(cfg, conn)  # a node rebuilt after a diverged log starts empty
            source = restore.wanted(cfg, conn)  # a brand-new node given a backup loads it (restore.py)
            if source is not None:
                restore.restore(cfg, conn, source)
            cluster_id = queries.cluster_id(conn)
            conn.commit()
        finally:
            conn.close()
        self.applier = Applier(lambda: connect(cfg.mysql, scripts=True))
        applied = self.applier.load()
        self.applier.start()
        log.info("node %s: database at applied index %s; starting Raft on %s", cfg.node_id, applied, cfg.raft_bind)
        if cfg.force_new_cluster and cfg.force_new_cluster == cfg.node_id:
            self._force_new_cluster()
        self._runner = RaftRunner(cfg, self.applier, database_cluster_id=cluster_id)
        self.raft = self._runner.start()
        self.pool = read_pool(cfg.mysql, min(cfg.http_threads, READ_POOL_MAX))
        self.proposer = Proposer(
            self.raft,
            self.applier.progress,
            recorded.reader(self.pool),
            EntryBatcher(self.raft, max_in_flight=cfg.timings.max_entries_in_flight),
        )
        self.barrier = log_barrier = ReadBarrier(self.raft, self.applier.progress)
        if cfg.timings.read_mode == "read_index":  # the log barrier stays for members that predate it
            self.barrier, self.raft.reads.fallback = self.raft.reads, log_barrier
        self.formation = Formation(self, record).start()
        self.started = True
        threading.Thread(target=self._register, name="taskraft-register", daemon=True).start()
        threading.Thread(target=self._watch_divergence, name="taskraft-divergence", daemon=True).start()
        if cfg.label_pod_role:
            from .k8s_labels import PodRoleLabeler

            PodRoleLabeler(self).start()
        if cfg.reconcile_members and cfg.statefulset:
            from .k8s_membership import StatefulSetMembership

            StatefulSetMembership(self).start()
        return self

    def _force_new_cluster(self) -> None:
        """TASKRAFT_FORCE_NEW_CLUSTER names this node: before Raft starts, make it a cluster of one."""
        from .recovery import RecoveryRefused, force_new_cluster

        try:
            done = force_new_cluster(self.cfg)
        except RecoveryRefused as exc:
            log.error("recovery: --force-new-cluster refused, starting as usual: %s", exc)
            return
        state = "already was" if done.already else "is now"
        log.warning("recovery: this node %s the only voter (log up to index %d)", state, done.last_index)

    def _register(self) -> None:
        """Record this node (id, raft address, API URL) in the replicated `nodes` table."""
        op = c.make_op(
            c.OP_REGISTER_NODE,
            origin=self.cfg.node_id,
            origin_addr=self.cfg.raft_advertise,
            args={"api_url": self.api_url},
            request_id=f"register:{self.cfg.node_id}:{self.cfg.raft_advertise}:{self.api_url}",
        )
        until_registered = Retrying(
            retry=retry_if_exception_type(Unavailable),
            wait=wait_fixed(1),
            sleep=self._pause,
            stop=lambda _state: self._stop.is_set(),
            retry_error_callback=lambda _state: None,
        )
        until_registered(lambda: self.write(op, time.monotonic() + 5))

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def write(self, op: dict, deadline: float) -> OpResult:
        """Propose `op` once this node has applied the cluster id: every write a client is told about then
        comes after the cluster record (cluster_formation.py)."""
        if not self.raft.identity.formed.wait(max(0.0, deadline - time.monotonic())):
            raise Unavailable("the cluster has not committed its id yet")
        return self.proposer.write(op, deadline)

    def check_serving(self) -> None:
        """Raise if this node's database must not be read (it diverged from the cluster's log)."""
        if self.diverged is not None:
            raise Diverged(self.diverged)

    def _watch_divergence(self) -> None:
        """Rebuild this node from the leader if its log or database diverged (rebuild.py)."""
        while not self._stop.wait(0.1):
            reason = self.raft.diverged or self.applier.diverged
            if reason is not None:
                self._rebuild(reason)
                return
            if rebuild.pending(self.cfg) is not None and self.raft.status.can_vote and self.raft.status.leader:
                rebuild.finish(self.cfg)  # caught up with a leader: the rebuild is over

    def _rebuild(self, reason: str) -> None:
        self.diverged = reason
        log.critical("node %s: %s; it serves nothing from its database and restarts empty", self.cfg.node_id, reason)
        if self.formation is not None:  # made by start() before this thread
            self.formation.stop()
        self._runner.stop()
        self.applier.stop()
        rebuild.request(self.cfg, reason)
        os._exit(REBUILD_EXIT)  # gunicorn starts a new worker, which finds the marker

    def readiness(self) -> tuple[bool, list[str]]:
        reasons = []
        status = self.raft.status
        if status.leader is None:
            reasons.append("no known leader")
        if not self.applier.healthy:
            reasons.append(f"database: {self.applier.last_error or 'not answering'}")
        else:
            try:
                with self.pool.connection() as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1")
            except TRANSIENT_ERRORS as exc:
                reasons.append(f"database: {exc}")
        # Against the LEADER's commit index: a follower whose log does not match the leader's yet
        # has its own commit index stuck, and would otherwise look caught up while far behind.
        lag = max(status.commit_index, status.leader_commit_index) - self.applier.applied_index
        if lag > MAX_READY_LAG:
            reasons.append(f"catching up: {lag} entries behind the leader's commit index")
        if not status.can_vote:
            reasons.append(f"not voting: {status.vote_withheld}")
        if status.voters and self.cfg.raft_advertise not in status.voters + status.learners:
            reasons.append("not a member of the cluster's configuration (never added, or removed)")
        if self.diverged is not None:
            reasons.append(f"diverged from the cluster's log: {self.diverged}")
        marker = rebuild.pending(self.cfg)
        if marker is not None:
            reasons.append(f"rebuilding from the leader after: {marker.get('reason')}")
        if status.cluster_id is None:
            why = self.formation.last_error if self.formation is not None else None
            reasons.append("the cluster id is not committed yet" + (f" ({why})" if why else ""))
        return not reasons, reasons

    def cluster_view(self) -> dict:
        status = self.raft.status
        known = {}
        try:
            with self.pool.connection() as conn:
                known = {n["raft_address"]: n for n in queries.nodes(conn)}
        except TRANSIENT_ERRORS:
            pass
        members = []
        contacts = self.raft.last_contacts()
        me_address = self.cfg.raft_advertise
        addresses = list(status.voters) + list(status.learners)
        if me_address not in addresses:
            addresses.append(me_address)  # shown, as "removed", when this node is no longer a member
        for address in addresses:
            row = known.get(address, {})
            me = address == me_address
            peer = status.peers.get(address, {})
            entry = {
                "node_id": self.cfg.node_id if me else row.get("node_id"),
                "raft_address": address,
                "api_url": self.api_url if me else row.get("api_url") or None,
                "membership": "voter"
                if address in status.voters
                else "learner"
                if address in status.learners
                else "removed",
                "reachable": True if me else peer.get("connected", False),
            }
            if me:
                entry["role"] = status.role
            elif address == status.leader:
                entry["role"] = "leader"
            elif status.is_leader and entry["reachable"]:
                entry["role"] = "follower"
            if status.is_leader and not me:
                match = peer.get("match_index")
                entry["match_index"] = match
                entry["lag"] = max(0, status.commit_index - match) if match is not None else None
                contact = contacts.get(address)
                entry["last_contact_s"] = round(contact, 3) if contact is not None else None
            entry["can_vote"] = status.can_vote if me else self.raft.identity.peer_can_vote(address)
            members.append(entry)
        leader_row = known.get(status.leader or "", {})
        return {
            "node_id": self.cfg.node_id,
            "raft_address": self.cfg.raft_advertise,
            "role": status.role,
            "leader": status.leader,
            "leader_id": self.cfg.node_id if status.is_leader else leader_row.get("node_id"),
            "term": status.term,
            "commit_index": status.commit_index,
            "last_applied": self.applier.applied_index,
            "has_quorum": status.has_quorum,
            "leader_changes": status.leader_changes,
            "cluster_id": status.cluster_id,
            "voting": {"can_vote": status.can_vote, "reason": status.vote_withheld},
            "configuration": {"voters": list(status.voters), "learners": list(status.learners)},
            "nodes": members,
        }

    def begin_handoff(self, timeout: float = 3.0) -> None:
        """If leader, start handing leadership off now, in the background (on SIGTERM: the API may go
        on answering while it winds down; stop() then finds the hand-off done)."""
        if self.started and self.raft.status.is_leader:
            threading.Thread(
                target=self.raft.hand_off_leadership, args=(timeout,), name="taskraft-handoff", daemon=True
            ).start()

    def stop(self, handoff_timeout: float = 3.0) -> None:
        """Graceful stop: hand leadership to a caught-up follower, then stop Raft and the applier."""
        self._stop.set()
        if not self.started:
            return
        self.raft.hand_off_leadership(handoff_timeout)  # returns at once unless leader
        self._runner.stop()
        self.applier.stop()
        self.started = False
