"""The nemesis: faults injected into a NetnsCluster, drawn from a seeded schedule.

Fault kinds (each one is applied, held, then healed; every fault is recorded):
    kill_leader / kill_follower / kill_random   SIGKILL a node's process group, restart it later
    pause            SIGSTOP a node (the leader half of the time) for 2-3 s (> the 1 s max election
                     timeout), then SIGCONT
    isolate_leader   iptables: the leader sees no other node (clients still reach every node)
    split            iptables: one node | the other two
    bridge           iptables: A sees B, B sees C, A does not see C
    kill_db          SIGKILL one node's MariaDB, restart it later
    wipe             kill one node and its MariaDB, delete the database and the Raft state, restart both
    wipe_then_kill   wipe one node as above, then SIGKILL another before the wiped one has caught up;
                     restart it after the hold (a node that lost its disk must not help elect a
                     leader that lacks acknowledged writes: the cluster waits for the killed node)
    term_leader      SIGTERM the leader (the graceful path: it hands off), restart it later
    rolling_restart  SIGTERM each node in turn, restart it and wait until it is ready
    membership       remove a member (the leader half of the time), wipe it, add it back empty as a
                     learner, sometimes killing another node while it catches up (membership_fault.py)

The schedule is a pure function of (profile, seed): `schedule(profile, seed)` yields the same
sequence of kinds, hold times, gaps and target choices for the same seed. Which node is the leader
at run time is not part of the seed, so a replay repeats the plan, not the exact interleaving.
The `ci` profile starts with every kind once, in a seeded order, then draws kinds at random.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from . import membership_fault

KINDS = (
    "kill_leader",
    "kill_follower",
    "kill_random",
    "pause",
    "isolate_leader",
    "split",
    "bridge",
    "kill_db",
    "wipe",
    "wipe_then_kill",
    "term_leader",
    "rolling_restart",
    "membership",
)
# Weights of the kinds drawn after the initial round: the slow ones (wipe, rolling restart) rarer.
RANDOM_WEIGHTS = {
    "kill_leader": 3,
    "kill_follower": 2,
    "kill_random": 2,
    "pause": 3,
    "isolate_leader": 3,
    "split": 3,
    "bridge": 2,
    "kill_db": 2,
    "wipe": 1,
    "wipe_then_kill": 1,
    "term_leader": 2,
    "rolling_restart": 1,
    "membership": 1,
}
PAUSE_RANGE = (2.0, 3.0)


@dataclass
class Plan:
    """One scheduled fault: what, how long to hold it, the gap after it, and seeded target choices."""

    seq: int
    kind: str
    hold: float
    gap: float
    pick: float  # in [0, 1): chooses the target among the candidates at run time
    pick2: float  # a second choice (the other end of a bridge, the order of a rolling restart)


@dataclass
class FaultRecord:
    seq: int
    kind: str
    targets: list[str]
    start: float  # monotonic: when the fault was applied
    end: float | None = None  # when healing began (the end of the fault)
    heal: float | None = None  # when the heal was complete (processes restarted, rules flushed)
    recovered: float | None = None  # first acknowledged write after the heal (the liveness probe)
    recovery: float | None = None  # recovered - heal
    ready: float | None = None  # when every node answered ready again
    details: dict = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def schedule(profile: str, seed: int) -> Iterator[Plan]:
    """The seeded, endless fault schedule of a profile."""
    rng = random.Random(f"taskraft-faults-{profile}-{seed}")
    first = list(KINDS)
    rng.shuffle(first)
    kinds, weights = zip(*RANDOM_WEIGHTS.items(), strict=True)
    seq = 0
    while True:
        kind = first[seq] if seq < len(first) else rng.choices(kinds, weights)[0]
        # Holds straddle the nodes' 5 s request timeout, so clients see both a slow answer after
        # the heal and a 503 during the fault.
        if profile == "ci":
            hold, gap = rng.uniform(3.0, 6.5), rng.uniform(0.5, 1.5)
        else:
            hold, gap = rng.uniform(2.0, 10.0), rng.uniform(0.5, 3.0)
        if kind == "pause":
            hold = rng.uniform(*PAUSE_RANGE)
        yield Plan(seq, kind, round(hold, 3), round(gap, 3), rng.random(), rng.random())
        seq += 1


class Nemesis:
    def __init__(self, cluster, log=print, clock=time.monotonic):
        self.cluster = cluster
        self.lab = cluster.lab
        self.n = len(cluster.nodes)
        self.log = log
        self.clock = clock
        self.records: list[FaultRecord] = []
        self.paused: set[int] = set()

    # -- helpers ---------------------------------------------------------------------------------

    def name(self, i: int) -> str:
        return self.cluster.nodes[i].node_id

    def host(self, i: int) -> str:
        return self.cluster.hosts[i].name

    def leader(self, timeout: float = 10.0) -> int | None:
        try:
            return self.cluster.wait_leader(timeout)
        except TimeoutError:
            return None

    @staticmethod
    def _choose(candidates: list[int], pick: float) -> int:
        return candidates[int(pick * len(candidates)) % len(candidates)]

    def _leader_or_pick(self, pick: float) -> tuple[int, bool]:
        leader = self.leader()
        if leader is None:
            return self._choose(list(range(self.n)), pick), False
        return leader, True

    # -- running one fault -----------------------------------------------------------------------

    def run(self, plan: Plan, sleep=time.sleep) -> FaultRecord:
        """Apply the fault, hold it for plan.hold seconds, heal it. Always returns a record."""
        method = getattr(self, f"_{plan.kind}")
        rec = FaultRecord(plan.seq, plan.kind, [], self.clock(), details={"hold": plan.hold})
        self.records.append(rec)
        try:
            method(plan, rec, sleep)
        except Exception as exc:  # the harness must go on; make sure nothing stays broken
            rec.error = f"{type(exc).__name__}: {exc}"
            self.log(f"  nemesis: {plan.kind} raised {rec.error}; healing everything")
            self.heal_all()
        if rec.end is None:
            rec.end = self.clock()
        if rec.heal is None:
            rec.heal = self.clock()
        return rec

    def _kill(self, i: int, plan: Plan, rec: FaultRecord, sleep) -> None:
        rec.targets = [self.name(i)]
        rec.start = self.clock()
        self.cluster.kill_node(i)
        sleep(plan.hold)
        rec.end = self.clock()
        self.cluster.start_node(i)
        rec.heal = self.clock()

    def _kill_leader(self, plan, rec, sleep):
        i, known = self._leader_or_pick(plan.pick)
        rec.details["leader_known"] = known
        self._kill(i, plan, rec, sleep)

    def _kill_follower(self, plan, rec, sleep):
        leader = self.leader()
        followers = [i for i in range(self.n) if i != leader]
        self._kill(self._choose(followers, plan.pick), plan, rec, sleep)

    def _kill_random(self, plan, rec, sleep):
        self._kill(self._choose(list(range(self.n)), plan.pick), plan, rec, sleep)

    def _pause(self, plan, rec, sleep):
        if plan.pick2 < 0.5:
            i, _ = self._leader_or_pick(plan.pick)
        else:
            i = self._choose(list(range(self.n)), plan.pick)
        rec.targets = [self.name(i)]
        rec.start = self.clock()
        self.cluster.pause_node(i)
        self.paused.add(i)
        sleep(plan.hold)
        rec.end = self.clock()
        self.cluster.resume_node(i)
        self.paused.discard(i)
        rec.heal = self.clock()

    def _partition(self, plan, rec, sleep, apply) -> None:
        rec.start = self.clock()
        apply()
        sleep(plan.hold)
        rec.end = self.clock()
        self.lab.heal()
        rec.heal = self.clock()

    def _node_hosts(self) -> list[str]:
        return [self.host(i) for i in range(self.n)]

    def _isolate_leader(self, plan, rec, sleep):
        i, known = self._leader_or_pick(plan.pick)
        rec.targets = [self.name(i)]
        rec.details["leader_known"] = known
        self._partition(plan, rec, sleep, lambda: self.lab.isolate(self.host(i), self._node_hosts()))

    def _split(self, plan, rec, sleep):
        i = self._choose(list(range(self.n)), plan.pick)
        rec.targets = [self.name(i)]
        rec.details["sides"] = [[self.name(i)], [self.name(j) for j in range(self.n) if j != i]]
        self._partition(plan, rec, sleep, lambda: self.lab.isolate(self.host(i), self._node_hosts()))

    def _bridge(self, plan, rec, sleep):
        order = list(range(self.n))
        random.Random(plan.pick).shuffle(order)
        a, b, c = order[0], order[1], order[2]
        rec.targets = [self.name(a), self.name(c)]
        rec.details["bridge"] = self.name(b)
        rec.details["cut"] = [self.name(a), self.name(c)]
        self._partition(plan, rec, sleep, lambda: self.lab.block(self.host(a), self.host(c)))

    def _kill_db(self, plan, rec, sleep):
        i = self._choose(list(range(self.n)), plan.pick)
        rec.targets = [self.name(i)]
        rec.start = self.clock()
        self.cluster.kill_db(i)
        sleep(plan.hold)
        rec.end = self.clock()
        self.cluster.start_db(i)
        rec.heal = self.clock()

    def _wipe(self, plan, rec, sleep):
        i = self._choose(list(range(self.n)), plan.pick)
        rec.targets = [self.name(i)]
        rec.start = self.clock()
        rec.end = rec.start
        self.cluster.wipe_node(i)  # kill node + db, delete both data dirs, start both
        rec.heal = self.clock()

    def _wipe_then_kill(self, plan, rec, sleep):
        i = self._choose(list(range(self.n)), plan.pick)
        k = self._choose([j for j in range(self.n) if j != i], plan.pick2)
        rec.targets = [self.name(i), self.name(k)]
        rec.details["killed"] = self.name(k)
        rec.start = self.clock()
        self.cluster.wipe_node(i)  # back empty: it must catch up before it may vote
        self.cluster.kill_node(k)  # before it has
        sleep(plan.hold)
        rec.end = self.clock()
        self.cluster.start_node(k)
        rec.heal = self.clock()

    def _term_leader(self, plan, rec, sleep):
        i, known = self._leader_or_pick(plan.pick)
        rec.targets = [self.name(i)]
        rec.details["leader_known"] = known
        rec.start = self.clock()
        self.cluster.stop_node(i)
        rec.details["stopped_after"] = round(self.clock() - rec.start, 3)
        sleep(plan.hold)
        rec.end = self.clock()
        self.cluster.start_node(i)
        rec.heal = self.clock()

    def _rolling_restart(self, plan, rec, sleep):
        order = list(range(self.n))
        random.Random(plan.pick2).shuffle(order)
        rec.targets = [self.name(i) for i in order]
        rec.start = self.clock()
        steps = []
        for i in order:
            t0 = self.clock()
            self.cluster.stop_node(i)
            self.cluster.start_node(i)
            self.cluster.wait_ready(90, nodes=[i])
            steps.append({"node": self.name(i), "seconds": round(self.clock() - t0, 3)})
        rec.details["steps"] = steps
        rec.end = self.clock()
        rec.heal = rec.end

    def _membership(self, plan, rec, sleep):
        membership_fault.membership(self, plan, rec, sleep)

    # -- healing everything ----------------------------------------------------------------------

    def heal_all(self) -> list[str]:
        """Flush every partition, resume paused nodes, restart dead databases and nodes."""
        done = []
        try:
            self.lab.heal()
        except Exception as exc:
            done.append(f"lab.heal failed: {exc}")
        for i in range(self.n):
            self.cluster.resume_node(i)
        self.paused.clear()
        for i in range(self.n):
            node = self.cluster.nodes[i]
            if not node.db.running:
                try:
                    self.cluster.start_db(i)
                    done.append(f"started db of {self.name(i)}")
                except Exception as exc:
                    done.append(f"db of {self.name(i)} failed to start: {exc}")
            if not self.cluster.node_alive(i):
                self.cluster.start_node(i)
                done.append(f"started {self.name(i)}")
        done += membership_fault.readd_missing(self)
        return done

    def dead(self) -> list[str]:
        """Nodes or databases that are down although no fault is active (an unexpected exit)."""
        out = []
        for i in range(self.n):
            if not self.cluster.node_alive(i):
                proc = self.cluster.nodes[i].process
                out.append(f"{self.name(i)} process exited ({proc.returncode if proc else 'never started'})")
            if not self.cluster.nodes[i].db.running:
                out.append(f"{self.name(i)} database not running")
        return out
