"""The alerts select this release's members and claims: the volume alerts' claim selector against the claim
names the StatefulSet makes, the member alerts' job and namespace. (promtool/alerts-test.yaml checks what
each alert does with series; this checks what it selects in every rendering.)"""

from __future__ import annotations

import re

import pytest
import yaml

from .conftest import CHART, NAMESPACE, RELEASE, one, render, require_tool, run

SELECTOR = f'{{job="{RELEASE}-taskraft-headless", namespace="{NAMESPACE}"}}'
CLAIM_MATCHER = re.compile(r'namespace="([^"]*)", persistentvolumeclaim(=~?)"((?:[^"\\]|\\.)*)"')


def _rules(helm, values=None, *extra) -> list[dict]:
    docs = render(helm, values, *extra)
    return one(docs, "PrometheusRule")["spec"]["groups"][0]["rules"]


def _claim_names(helm, values=None, *extra) -> list[str]:
    """<template>-<statefulset>-<ordinal>: the names Kubernetes gives the StatefulSet's claims."""
    sts = one(render(helm, values, *extra), "StatefulSet")
    return [
        f"{t['metadata']['name']}-{sts['metadata']['name']}-{i}"
        for t in sts["spec"].get("volumeClaimTemplates", [])
        for i in range(sts["spec"]["replicas"])
    ]


def _claim_selectors(rule: dict) -> set[tuple[str, str, str]]:
    """(namespace, operator, value as Prometheus reads the string) of every claim selector of the rule."""
    found = {(ns, op, re.sub(r"\\(.)", r"\1", value)) for ns, op, value in CLAIM_MATCHER.findall(rule["expr"])}
    assert found, rule["expr"]
    return found


def _selects(selectors: set[tuple[str, str, str]], namespace: str, claim: str) -> bool:
    ((sel_ns, op, value),) = selectors  # used and capacity select the same claims
    if sel_ns != namespace:
        return False
    return re.fullmatch(value, claim) is not None if op == "=~" else value == claim


@pytest.mark.parametrize("values", [None, CHART / "ci" / "five-replicas-values.yaml"], ids=["defaults", "five"])
def test_volume_alerts_select_exactly_the_statefulsets_claims(helm, values):
    volume = [r for r in _rules(helm, values) if r["alert"] == "TaskraftVolumeFillingUp"]
    assert sorted((r["labels"]["severity"], r["expr"].rsplit(" > ", 1)[1]) for r in volume) == [
        ("critical", "0.9"),
        ("warning", "0.8"),
    ]
    claims = _claim_names(helm, values)
    assert len(claims) == 2 * one(render(helm, values), "StatefulSet")["spec"]["replicas"]
    for rule in volume:
        selectors = _claim_selectors(rule)
        assert all(_selects(selectors, NAMESPACE, c) for c in claims), (selectors, claims)
        # not another release's claims, nor ours in another namespace, nor a claim the chart does not make
        for other in (
            "mysql-data-t-taskraft-other-0",
            "mysql-data-other-0",
            "data-t-taskraft-0",
            "mysql-data-t-taskraft-0-copy",
            "raft-data-t-taskraft-x",
        ):
            assert not _selects(selectors, NAMESPACE, other), other
        assert not _selects(selectors, "elsewhere", claims[0])


def test_volume_alerts_follow_an_existing_claim_and_skip_emptydir(helm):
    rules = _rules(helm, None, "--set", "replicaCount=1", "--set", "persistence.existingClaim=kept-{{ .Release.Name }}")
    for rule in (r for r in rules if r["alert"] == "TaskraftVolumeFillingUp"):
        assert _claim_selectors(rule) == {(NAMESPACE, "=", f"kept-{RELEASE}")}
    without = _rules(helm, None, "--set", "persistence.enabled=false")
    assert not [r for r in without if r["alert"] == "TaskraftVolumeFillingUp"]
    assert len(without) == len(rules) - 2


def test_a_claim_regex_quotes_the_release_name(helm, tmp_path):
    """A name with a regex metacharacter matches only itself, and the escape is valid PromQL."""
    extra = ("--set", "fullnameOverride=db.v2")
    rules = _rules(helm, None, *extra)
    (rule, _) = [r for r in rules if r["alert"] == "TaskraftVolumeFillingUp"]
    selectors = _claim_selectors(rule)
    assert all(_selects(selectors, NAMESPACE, c) for c in _claim_names(helm, None, *extra))
    assert not _selects(selectors, NAMESPACE, "mysql-data-dbxv2-0")
    promtool = require_tool("promtool", install="scripts/install-chart-tools.sh (apt package prometheus)")
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "t", "rules": rules}]}))
    run([promtool, "check", "rules", str(path)])


def test_member_and_quorum_alerts_select_the_release(helm):
    alerts = {r["alert"]: r for r in _rules(helm)}
    down, at_risk, lost = alerts["TaskraftMemberDown"], alerts["TaskraftQuorumAtRisk"], alerts["TaskraftQuorumLost"]
    assert f"up{SELECTOR} == 0" in down["expr"]
    assert f"taskraft_node_ready{SELECTOR} == 0" in down["expr"]
    assert f"max(taskraft_raft_voters{SELECTOR}) - count(up{SELECTOR}) > 0" in down["expr"]
    assert (down["for"], down["labels"]["severity"]) == ("5m", "warning")
    assert (at_risk["for"], at_risk["labels"]["severity"]) == ("5m", "warning")
    assert (lost["for"], lost["labels"]["severity"]) == ("1m", "critical")
    for alert in (at_risk, lost):
        assert f"sum(taskraft_node_ready{SELECTOR})" in alert["expr"]
        assert f"floor(max(taskraft_raft_voters{SELECTOR}) / 2) + 1" in alert["expr"]
    # the same expression, but for the comparison: exactly a quorum ready, or fewer
    assert " == ((floor(" in at_risk["expr"] and " < ((floor(" in lost["expr"]


def test_backup_alerts_only_with_backups_select_the_release_and_follow_max_age(helm):
    assert not [r for r in _rules(helm) if r["alert"].startswith("TaskraftBackup")]
    for max_age, seconds in (("26h", 93600), ("1d12h", 129600), ("90m", 5400), ("1w", 604800)):
        rules = _rules(helm, None, "--set", "backup.enabled=true", "--set", f"backup.alert.maxAge={max_age}")
        alerts = {r["alert"]: r for r in rules if r["alert"].startswith("TaskraftBackup")}
        assert set(alerts) == {"TaskraftBackupTooOld", "TaskraftBackupNeverSucceeded"}
        too_old, never = alerts["TaskraftBackupTooOld"], alerts["TaskraftBackupNeverSucceeded"]
        assert too_old["expr"] == (
            f"time() - max(taskraft_backup_last_success_timestamp_seconds{SELECTOR}) > {seconds}"
        ), too_old["expr"]
        assert never["expr"] == f"absent(taskraft_backup_last_success_timestamp_seconds{SELECTOR})"
        assert (never["for"], too_old["for"]) == (max_age, "15m")
        assert too_old["labels"] == never["labels"] == {"severity": "warning"}
    rules = _rules(helm, None, "--set", "backup.enabled=true", "--set", "backup.alert.severity=critical")
    assert {r["labels"]["severity"] for r in rules if r["alert"].startswith("TaskraftBackup")} == {"critical"}
