"""The fault suite's `ci` profile as a test: a 3-node cluster on separate network namespaces, 10
clients, every fault kind at least once, then every checker. Takes about 4 minutes.

Replay a failure with the seed in the assertion message:
    taskraft-faults run --profile ci --seed <seed>
or pin the seed of this test with TASKRAFT_FAULTS_SEED=<seed>.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from taskraft.faults.nemesis import KINDS
from taskraft.faults.runner import run

from ..helpers import require_netns

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
OP_TYPES = ("create", "read", "update", "delete", "list")

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(420)]


def test_ci_profile_finds_no_violation():
    require_netns("the fault suite")
    seed = int(os.environ.get("TASKRAFT_FAULTS_SEED") or random.SystemRandom().randrange(1, 10**6))
    ARTIFACTS.mkdir(exist_ok=True)
    report = run("ci", seed=seed, report=ARTIFACTS / "fault-suite-ci.json")
    where = f"seed {seed}; report {report['report_path']}; replay: {report['replay']}"

    assert report["violations_total"] == 0, f"violations {report['violations']}: {where}"
    assert report["ok"], where
    assert not report["faults"]["kinds_missing"], where
    assert set(report["faults"]["by_kind"]) == set(KINDS), where
    for f in OP_TYPES:
        assert report["ops"]["by_type"].get(f, {}).get("ok", 0) > 0, f"no acknowledged {f}: {where}"
    assert report["timings"]["total"] < 300, f"the ci profile took {report['timings']['total']:.0f}s: {where}"
