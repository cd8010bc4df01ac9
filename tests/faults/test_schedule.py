"""The fault schedule is a pure function of (profile, seed), and the ci profile covers every kind first."""

from __future__ import annotations

import itertools
import random

from taskraft.faults.nemesis import KINDS, PAUSE_RANGE, Nemesis, schedule
from taskraft.faults.workload import HotSet


def first(profile: str, seed: int, n: int = 40):
    return list(itertools.islice(schedule(profile, seed), n))


def test_same_seed_same_schedule_and_different_seeds_differ():
    assert first("ci", 7) == first("ci", 7)
    assert first("long", 7) == first("long", 7)
    assert [p.kind for p in first("ci", 7)] != [p.kind for p in first("ci", 8)]


def test_every_kind_comes_first_once_then_random_ones():
    for seed in range(20):
        plans = first("ci", seed)
        assert sorted(p.kind for p in plans[: len(KINDS)]) == sorted(KINDS)
        assert all(p.kind in KINDS for p in plans[len(KINDS):])


def test_pauses_outlast_the_election_timeout():
    for seed in range(20):
        for p in first("long", seed, 60):
            if p.kind == "pause":
                assert PAUSE_RANGE[0] <= p.hold <= PAUSE_RANGE[1] and p.hold > 1.0
            assert 0 <= p.pick < 1 and 0 <= p.pick2 < 1


def test_every_kind_has_an_implementation():
    assert all(callable(getattr(Nemesis, f"_{kind}", None)) for kind in KINDS)


def test_hot_set_tracks_versions_and_retires_deleted_tasks():
    hot = HotSet(3)
    hot.add({"id": 1, "version": 1})
    hot.add({"id": 2, "version": 1})
    hot.observe({"id": 1, "version": 4})
    hot.observe({"id": 1, "version": 2})  # an older copy never lowers what was seen
    rng = random.Random(1)
    seen = {hot.pick(rng) for _ in range(200)}
    assert {tid for tid, _ in seen} == {1, 2}
    assert max(v for tid, v in seen if tid == 1) == 4
    hot.retire(1)
    assert len(hot) == 1 and all(hot.pick(rng)[0] == 2 for _ in range(20))
    hot.retire(2)
    assert hot.pick(rng) is None
