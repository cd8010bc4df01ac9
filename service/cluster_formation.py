"""Forming the cluster: the leader records the cluster id outside the nodes, then commits it through the log.

Order matters (identity.py): the record is written BEFORE the id is proposed, and no node proposes
a client write before it has applied the id (`TaskraftNode.wait_formed`). So every write a client
was told about lies after the record, and a node that comes back empty while the record exists knows
that it may have lost acknowledged writes. The id is the first one committed (state/machine.py):

  1. a leader takes a read barrier (an entry of its own term, applied here), so its database holds
     every committed entry, then reads `raft_meta.cluster_id`;
  2. if there is none: the id already in the record (a leader that died between writing the record
     and committing), else a new one; it writes the record, then proposes `init_cluster`;
  3. afterwards, while leading, it keeps the record naming the committed id (a ConfigMap deleted by
     hand, or a record added to an existing cluster, is written again).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from . import commands as c
from .consensus.cluster_record import ClusterRecord, RecordError
from .consensus.proposals import Unavailable
from .state import queries
from .state.db import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

CHECK_EVERY = 0.2  # seconds, until the id is known
RECHECK_RECORD_EVERY = 10.0  # seconds, afterwards (leader only)


class Formation:
    def __init__(self, node, record: ClusterRecord | None):
        self._node = node  # TaskraftNode: cfg, raft, pool, proposer, barrier
        self._record = record
        self._stop = threading.Event()
        self._recorded: str | None = None
        self.last_error: str | None = None

    def start(self) -> Formation:
        threading.Thread(target=self._run, name="taskraft-formation", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            identity = self._node.raft.identity
            known = identity.cluster_id is not None
            try:
                if self._node.raft.status.is_leader:
                    self._lead_once()
                self.last_error = None
            except (Unavailable, RecordError, *TRANSIENT_ERRORS) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("formation: %s; trying again", self.last_error)
            except Exception as exc:  # never let the duty die: /readyz names what went wrong
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("formation failed; trying again")
            self._stop.wait(RECHECK_RECORD_EVERY if known and self._recorded else CHECK_EVERY)

    def _lead_once(self) -> None:
        node = self._node
        identity = node.raft.identity
        if identity.conflict:
            return
        node.barrier.wait(time.monotonic() + node.cfg.request_timeout)
        with node.pool.connection() as conn:
            committed = queries.cluster_id(conn)
        if committed is not None:
            identity.adopt(committed)
            self._keep_recorded(committed)
            return
        recorded = self._record.read() if self._record is not None else None
        cluster_id = recorded or identity.recorded_id or uuid.uuid4().hex
        self._keep_recorded(cluster_id)
        op = c.make_op(
            c.OP_INIT_CLUSTER,
            origin=node.cfg.node_id,
            origin_addr=node.cfg.raft_advertise,
            args={"cluster_id": cluster_id},
            request_id=f"init:{cluster_id}",
        )
        result = node.proposer.write(op, time.monotonic() + node.cfg.request_timeout)
        identity.adopt(result.message or cluster_id)
        log.info("formation: the cluster id is %s", result.message)

    def _keep_recorded(self, cluster_id: str) -> None:
        if self._record is None:
            self._recorded = cluster_id
            return
        if self._record.read() != cluster_id or not self._record.owned():
            self._record.write(cluster_id)
            log.info("formation: cluster record now names %s", cluster_id)
        self._recorded = cluster_id
