"""Liveness: a write succeeds within the bound after every heal; recovery times are reported."""

from taskraft.faults.checkers import liveness
from taskraft.faults.history import Op


def test_recovery_after_every_heal():
    r = liveness.check([10.0, 20.0, 30.0], [1.0, 11.0, 20.5, 34.0, 35.0], bound=5.0)
    assert r.ok and r.stats["recovery"] == [1.0, 0.5, 4.0]
    assert (r.stats["p50"], r.stats["p90"], r.stats["max"]) == (1.0, 4.0, 4.0)


def test_slow_recovery():
    r = liveness.check([10.0, 20.0], [11.0, 29.0], bound=5.0)
    assert [v["kind"] for v in r.violations] == ["slow_recovery"] and r.violations[0]["heal"] == 20.0
    assert r.violations[0]["recovery"] == 9.0


def test_no_write_after_heal():
    r = liveness.check([10.0], [1.0, 2.0], bound=5.0)
    assert [v["kind"] for v in r.violations] == ["no_write_after_heal"] and r.stats["max"] is None


def test_heal_too_close_to_the_end_is_inconclusive():
    r = liveness.check([10.0], [1.0], bound=5.0, end_time=12.0)
    assert r.ok and r.stats["inconclusive"] == 1
    assert not liveness.check([10.0], [1.0], bound=5.0, end_time=16.0).ok


def test_write_times_come_from_acked_writes_only():
    ops = [Op(0, 1, "update", 0, 4.0, "ok"), Op(0, 2, "update", 0, 3.0, "info"), Op(0, 3, "read", 0, 2.0, "ok"),
           Op(0, 4, "create", 0, 5.0, "ok"), Op(0, 5, "delete", 0, 1.0, "fail", error="not_found")]
    assert liveness.write_times(ops) == [4.0, 5.0]
