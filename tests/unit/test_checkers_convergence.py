"""Convergence: identical table checksums and applied index on every node."""

from taskraft.faults.checkers import convergence

SUMS = {"tasks": "aa", "raft_log": "bb", "nodes": "cc"}


def test_identical_nodes():
    r = convergence.check({n: dict(SUMS) for n in ("n1", "n2", "n3")}, {"n1": 40, "n2": 40, "n3": 40})
    assert r.ok and r.stats == {"nodes": 3, "tables": 3, "applied_index": [40], "violations": 0}


def test_diverged_table():
    sums = {n: dict(SUMS) for n in ("n1", "n2", "n3")}
    sums["n2"]["tasks"] = "zz"
    r = convergence.check(sums, {"n1": 40, "n2": 40, "n3": 40})
    assert [v["kind"] for v in r.violations] == ["table_differs"]
    assert r.violations[0]["table"] == "tasks" and r.violations[0]["groups"] == {"aa": ["n1", "n3"], "zz": ["n2"]}
    assert "tasks" in r.summary()


def test_missing_table_and_applied_index_differs():
    sums = {n: dict(SUMS) for n in ("n1", "n2")}
    del sums["n1"]["raft_log"]
    r = convergence.check(sums, {"n1": 40, "n2": 41, "n3": 41})
    assert sorted(v["kind"] for v in r.violations) == ["applied_index_differs", "table_differs"]
    by = {v["kind"]: v for v in r.violations}
    assert by["table_differs"]["missing_on"] == ["n1"] and by["applied_index_differs"]["groups"] == {"40": ["n1"], "41": ["n2", "n3"]}


def test_node_missing_from_applied_index():
    r = convergence.check({"n1": SUMS, "n2": SUMS}, {"n1": 5})
    assert r.violations[0]["kind"] == "applied_index_differs" and r.violations[0]["missing_on"] == ["n2"]
