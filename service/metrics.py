"""Prometheus metrics, defined once and updated by the layer that owns each fact."""

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RAFT_TERM = Gauge("raft_term", "Current Raft term")
RAFT_COMMIT_INDEX = Gauge("raft_commit_index", "Highest log index known to be committed")
RAFT_LAST_APPLIED = Gauge("raft_last_applied", "Highest log index applied to this node's database")
RAFT_STATE = Gauge("raft_state", "1 for the Raft role this node is in", ["state"])
RAFT_IS_LEADER = Gauge("raft_is_leader", "1 if this node is the Raft leader")
RAFT_LEADER_CHANGES = Counter("raft_leader_changes", "Leader changes seen by this node")
RAFT_PEERS_CONNECTED = Gauge("raft_peers_connected", "Peers this node has a Raft connection to")
RAFT_APPLY_DURATION = Histogram(
    "raft_apply_duration_seconds",
    "Time to apply one batch of committed entries to MySQL (one transaction)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_ERRORS = Counter("taskraft_http_errors", "Error responses by error code", ["code"])
TASKS = Gauge("taskraft_tasks", "Tasks in this node's database by status", ["status"])
NODE_READY = Gauge("taskraft_node_ready", "1 if /readyz would answer 200")
APPLY_ERRORS = Counter("taskraft_apply_errors", "Database errors while applying committed entries")
RAFT_CAN_VOTE = Gauge("taskraft_raft_can_vote", "1 if this node may vote in Raft elections")
RAFT_VOTE_WITHHELD = Gauge(
    "taskraft_raft_vote_withheld", "1 for the reason this node may not vote (see docs/operations.md)", ["reason"]
)
RAFT_FOREIGN_MESSAGES = Counter(
    "taskraft_raft_foreign_messages", "Raft messages refused because the sender holds another cluster id", ["peer"]
)
RAFT_WIRE_GCM_LINKS = Counter(
    "taskraft_raft_wire_gcm_links", "Raft links that switched from Fernet to AES-GCM frames (both ends speak it)"
)
RAFT_VOTERS = Gauge("taskraft_raft_voters", "Voters in the newest configuration in this node's log")
READ_INDEX_ROUNDS = Counter(
    "taskraft_read_index_rounds", "Read-index rounds this node led, by outcome (confirmed or failed)", ["outcome"]
)
RAFT_LEARNERS = Gauge("taskraft_raft_learners", "Learners (members still catching up) in that configuration")
CLUSTER_VIEW_GATHERINGS = Counter(
    "taskraft_cluster_view_gatherings",
    "Times this node asked every member for its own view (GET /api/v1/cluster/nodes; at most one per second)",
)


class _Optional(Collector):
    """A gauge that is absent until it has a value (a backup's figures: none before the first success)."""

    def __init__(self, name: str, documentation: str):
        self._name, self._doc = name, documentation
        self.value: float | None = None
        REGISTRY.register(self)

    def set(self, value: float) -> None:
        self.value = float(value)

    def collect(self):
        if self.value is not None:
            yield GaugeMetricFamily(self._name, self._doc, value=self.value)


BACKUP_LAST_SUCCESS = _Optional(
    "taskraft_backup_last_success_timestamp_seconds", "When this node last served a complete backup (Unix time)"
)
BACKUP_DURATION = _Optional("taskraft_backup_duration_seconds", "How long this node's last complete backup took")
BACKUP_SIZE = _Optional("taskraft_backup_size_bytes", "The size of this node's last complete backup (compressed)")
BACKUPS = Counter("taskraft_backups", "Backups this node served, by outcome (success or failure)", ["outcome"])
for _outcome in ("success", "failure"):
    BACKUPS.labels(outcome=_outcome)
