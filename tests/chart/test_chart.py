"""Offline checks of the Helm chart: lint, render, Kubernetes schemas, CRD schemas, invariants."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from .conftest import (
    CHART,
    CRD_KINDS,
    NAMESPACE,
    RELEASE,
    VARIANT_IDS,
    VARIANTS,
    by_kind,
    one,
    render,
    run,
)

SCHEMAS = Path(__file__).parent / "schemas"
STATEFULSET = f"{RELEASE}-taskraft"
RECORD = f"{RELEASE}-taskraft-cluster"  # the cluster record ConfigMap, written by the leader
POD_LABEL_RULE = {
    "apiGroups": [""],
    "resources": ["pods"],
    "verbs": ["get", "patch"],
    "resourceNames": [f"{STATEFULSET}-{i}" for i in range(3)],
}
CLUSTER_RECORD_RULES = [
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"], "resourceNames": [RECORD]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},  # RBAC cannot restrict create by name
    {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get"], "resourceNames": [STATEFULSET]},
]


def test_lint_strict(helm):
    run([helm, "lint", "--strict", str(CHART)])
    for values in sorted((CHART / "ci").glob("*.yaml")):
        run([helm, "lint", "--strict", str(CHART), "-f", str(values)])


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_template_renders_expected_objects(helm, values):
    docs = render(helm, values)
    kinds = {d["kind"] for d in docs}
    for kind in (
        "StatefulSet",
        "Service",
        "Secret",
        "ConfigMap",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Pod",
    ):
        assert kind in kinds, f"{kind} missing from the render"
    monitoring_on = values is None or "monitoring-off" not in Path(values).name
    assert ("ServiceMonitor" in kinds) == monitoring_on
    assert ("PrometheusRule" in kinds) == monitoring_on
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "duplicate objects"


def _kubernetes_versions() -> list[str]:
    kv = pytest.importorskip(
        "kubernetes_validate.utils", reason="kubernetes-validate is not installed (scripts/install-chart-tools.sh)"
    )
    return sorted({"1.29.0", kv.latest_version()}, key=lambda v: tuple(int(x) for x in v.split(".")))


def _assert_kubernetes_validate_strict(rendered: list[dict], tmp_path: Path) -> None:
    docs = [d for d in rendered if (d["apiVersion"], d["kind"]) not in CRD_KINDS]
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    for version in _kubernetes_versions():
        proc = run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version, str(manifest)], check=False)
        assert proc.returncode == 0, f"kubernetes {version}:\n{proc.stdout}\n{proc.stderr}"
        assert proc.stdout.count("passed for resource") == len(docs), proc.stdout


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_manifests_pass_kubernetes_validate_strict(helm, values, tmp_path):
    """Every core manifest validates strictly (unknown fields rejected) for 1.29 and the newest known version."""
    _assert_kubernetes_validate_strict(render(helm, values), tmp_path)


def test_kubernetes_validate_rejects_unknown_fields(tmp_path):
    """The validator is live: a misspelt field in a StatefulSet fails strict validation."""
    _kubernetes_versions()
    bad = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "x"},
        "spec": {
            "serviceName": "x",
            "selector": {"matchLabels": {"a": "b"}},
            "podManagmentPolicy": "Parallel",
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        },
    }
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    proc = run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", "1.29.0", str(f)], check=False)
    assert proc.returncode != 0


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_monitoring_objects_match_crd_schemas(helm, values):
    docs = render(helm, values)
    for kind, schema_file in (
        ("ServiceMonitor", "servicemonitor-v1.json"),
        ("PrometheusRule", "prometheusrule-v1.json"),
    ):
        schema = json.loads((SCHEMAS / schema_file).read_text())
        for doc in by_kind(docs, kind):
            jsonschema.validate(doc, schema)


def test_crd_schemas_reject_mistakes():
    sm = json.loads((SCHEMAS / "servicemonitor-v1.json").read_text())
    pr = json.loads((SCHEMAS / "prometheusrule-v1.json").read_text())
    bad_sm = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "http", "intervall": "15s"}]},
    }
    bad_pr = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "x"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": "1 minute"}]}]},
    }
    for doc, schema in ((bad_sm, sm), (bad_pr, pr)):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, schema)


def test_monitoring_objects_skipped_without_crds(helm):
    """A plain cluster (no monitoring.coreos.com API) installs without the CRD objects."""
    proc = run([helm, "template", RELEASE, str(CHART), "-n", NAMESPACE])
    kinds = {d["kind"] for d in yaml.safe_load_all(proc.stdout) if d}
    assert "ServiceMonitor" not in kinds and "PrometheusRule" not in kinds
    assert "ConfigMap" in kinds


@pytest.mark.parametrize("replicas", [2, 4, 0])
def test_even_replica_count_is_rejected_by_schema(helm, replicas):
    proc = run([helm, "template", RELEASE, str(CHART), "--set", f"replicaCount={replicas}"], check=False)
    assert proc.returncode != 0
    assert "replicaCount" in proc.stderr


@pytest.mark.parametrize("replicas", [2, 4])
def test_even_replica_count_is_rejected_by_template(helm, replicas):
    """The template guard holds even when the schema is skipped."""
    proc = run(
        [helm, "template", RELEASE, str(CHART), "--skip-schema-validation", "--set", f"replicaCount={replicas}"],
        check=False,
    )
    assert proc.returncode != 0
    assert "replicaCount must be an odd number" in proc.stderr


def test_statefulset_invariants(helm):
    docs = render(helm)
    sts = one(docs, "StatefulSet")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == f"{RELEASE}-taskraft-headless"
    assert {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]} == {"mysql-data", "raft-data"}
    assert pod["terminationGracePeriodSeconds"] >= 20
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]

    (sidecar,) = pod["initContainers"]
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == "mysql:8.4"
    assert "--bind-address=127.0.0.1" in sidecar["args"]
    assert "startupProbe" in sidecar
    env = {e["name"] for e in sidecar["env"]}
    assert {"MYSQL_ROOT_PASSWORD_FILE", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD_FILE"} <= env
    mounts = {m["mountPath"] for m in sidecar["volumeMounts"]}
    assert {"/var/lib/mysql", "/var/run/mysqld", "/tmp"} <= mounts

    (app,) = pod["containers"]
    for c in (sidecar, app):
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert app["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "2"]
    annotations = spec["template"]["metadata"]["annotations"]
    assert "checksum/config" in annotations and "checksum/secret" in annotations

    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    assert cm["TASKRAFT_STATEFULSET"] == sts["metadata"]["name"]
    # The replica count only seeds a new cluster: it lives outside the checksummed ConfigMap, so scaling
    # restarts no pod; the leader reconciles the members with the StatefulSet instead.
    assert "TASKRAFT_REPLICAS" not in cm and cm["TASKRAFT_RECONCILE_MEMBERS"] == "true"
    seed = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-seed"))["data"]
    assert seed == {"TASKRAFT_REPLICAS": "3"}
    sources = [ref["configMapRef"]["name"] for ref in app["envFrom"]]
    assert sources == [f"{sts['metadata']['name']}-env", f"{sts['metadata']['name']}-seed"]
    assert cm["TASKRAFT_HEADLESS_SERVICE"] == spec["serviceName"]
    assert cm["TASKRAFT_NAMESPACE"] == NAMESPACE
    assert cm["TASKRAFT_DNS_CACHE_TIME"] == "5"
    assert cm["TASKRAFT_LABEL_POD_ROLE"] == "true"
    assert cm["TASKRAFT_MYSQL_DSN"] == "mysql://taskraft@127.0.0.1:3306/taskraft"
    env = {e["name"]: e for e in app["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["TASKRAFT_NODE_ID"]["value"] == "$(POD_NAME)"


def test_node_config_derives_peers_from_the_rendered_env(helm, monkeypatch):
    """The env the chart renders makes the real config loader produce StatefulSet DNS peers."""
    config = pytest.importorskip("taskraft.config", reason="the taskraft package is not installed")
    from taskraft.consensus import cluster_record

    docs = render(helm)
    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    for key, value in cm.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POD_NAME", f"{RELEASE}-taskraft-1")
    monkeypatch.setenv("TASKRAFT_NODE_ID", f"{RELEASE}-taskraft-1")
    monkeypatch.delenv("TASKRAFT_RAFT_SECRET_FILE")
    monkeypatch.setenv("TASKRAFT_RAFT_SECRET", "x")
    monkeypatch.delenv("TASKRAFT_MYSQL_PASSWORD_FILE")
    monkeypatch.setenv("POD_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("TASKRAFT_CLUSTER_ID", "0f3c")  # what the kubelet resolves from the record, once written
    cfg = config.load_config()
    base = f"{RELEASE}-taskraft-headless.{NAMESPACE}.svc.cluster.local:7000"
    assert cfg.peers == tuple(f"{RELEASE}-taskraft-{i}.{base}" for i in range(3))
    assert cfg.raft_advertise == f"{RELEASE}-taskraft-1.{base}"
    assert cfg.timings.dns_cache_time == 5.0
    assert cfg.label_pod_role is True
    # The cluster record the members write is the ConfigMap the chart reads back and the Role allows.
    assert cfg.cluster_id == "0f3c"
    record = cluster_record.open_record(cfg.cluster_record, cfg.pod_namespace, cfg.statefulset)
    assert isinstance(record, cluster_record.ConfigMapRecord)
    assert (record.name, record.namespace, record.owner) == (RECORD, NAMESPACE, STATEFULSET)


def test_variants(helm):
    maria = one(render(helm, CHART / "ci" / "mariadb-values.yaml"), "StatefulSet")["spec"]["template"]["spec"]
    (sidecar,) = maria["initContainers"]
    assert sidecar["image"].startswith("mariadb:")
    assert {"MARIADB_ROOT_PASSWORD_FILE", "MARIADB_DATABASE", "MARIADB_USER", "MARIADB_PASSWORD_FILE"} <= {
        e["name"] for e in sidecar["env"]
    }
    assert sidecar["startupProbe"]["exec"]["command"][0] == "mariadb-admin"
    assert "--mysqlx=OFF" not in sidecar["args"]

    five = render(helm, CHART / "ci" / "five-replicas-values.yaml")
    assert one(five, "StatefulSet")["spec"]["replicas"] == 5
    role = one(five, "Role")
    assert role["rules"][0]["resourceNames"] == [f"{RELEASE}-taskraft-{i}" for i in range(5)]
    assert role["rules"][1:] == CLUSTER_RECORD_RULES
    rule = one(five, "PrometheusRule")
    rules = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    for name in ("TaskraftQuorumLost", "TaskraftQuorumAtRisk"):
        # the voters reported, else the chart's count (5 -> 3)
        assert rules[name]["expr"].endswith("or vector(3))"), name


def test_services_rbac_pdb_networkpolicy(helm):
    docs = render(helm)
    services = {s["metadata"]["name"]: s["spec"] for s in by_kind(docs, "Service")}
    headless = services[f"{RELEASE}-taskraft-headless"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["name"] for p in headless["ports"]} == {"raft", "http"}
    assert "publishNotReadyAddresses" not in services[f"{RELEASE}-taskraft"]
    assert services[f"{RELEASE}-taskraft-leader"]["selector"]["taskraft.io/role"] == "leader"

    role = one(docs, "Role")
    assert role["rules"] == [POD_LABEL_RULE, *CLUSTER_RECORD_RULES]
    binding = one(docs, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{RELEASE}-taskraft", "namespace": NAMESPACE}]
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1

    np = one(docs, "NetworkPolicy")["spec"]
    raft_rule = next(r for r in np["ingress"] if r["ports"][0]["port"] == 7000)
    assert raft_rule["from"] == [{"podSelector": {"matchLabels": np["podSelector"]["matchLabels"]}}]
    http_rule = next(r for r in np["ingress"] if r["ports"][0]["port"] == 8080)
    assert "from" not in http_rule  # allowExternal: true by default
    closed = render(helm, None, "--set", "networkPolicy.http.allowExternal=false")
    http_rule = next(r for r in one(closed, "NetworkPolicy")["spec"]["ingress"] if r["ports"][0]["port"] == 8080)
    assert {"podSelector": {"matchLabels": {f"{RELEASE}-taskraft-client": "true"}}} in http_rule["from"]


def _app(docs: list[dict]) -> tuple[dict, dict, dict]:
    """The pod spec, the taskraft container's env by name, and the env ConfigMap's data."""
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    return pod, {e["name"]: e for e in app["env"]}, cm


def test_cluster_record_env_and_rbac(helm):
    cluster_record = pytest.importorskip(
        "taskraft.consensus.cluster_record", reason="the taskraft package is not installed"
    )
    docs = render(helm)
    pod, env, cm = _app(docs)
    assert cm["TASKRAFT_CLUSTER_RECORD"] == f"configmap:{RECORD}"
    assert cm["TASKRAFT_STATEFULSET"] == STATEFULSET == one(docs, "StatefulSet")["metadata"]["name"]
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    # Resolved by the kubelet when the container starts; absent (not an error) before the cluster first forms.
    assert env["TASKRAFT_CLUSTER_ID"] == {
        "name": "TASKRAFT_CLUSTER_ID",
        "valueFrom": {"configMapKeyRef": {"name": RECORD, "key": cluster_record.CONFIGMAP_KEY, "optional": True}},
    }
    assert pod["automountServiceAccountToken"] is True
    assert one(docs, "Role")["rules"] == [POD_LABEL_RULE, *CLUSTER_RECORD_RULES]


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_the_chart_never_renders_the_cluster_record(helm, values):
    """The leader writes it; a rendered one would be overwritten (emptied) by every upgrade."""
    for extra in ((), ("--set", "raft.clusterRecord.enabled=false")):
        assert not [d for d in render(helm, values, *extra) if d["metadata"]["name"] == RECORD]


def test_cluster_record_off(helm, tmp_path):
    docs = render(helm, None, "--set", "raft.clusterRecord.enabled=false")
    pod, env, cm = _app(docs)
    assert "TASKRAFT_CLUSTER_RECORD" not in cm and "TASKRAFT_CLUSTER_ID" not in env
    assert RECORD not in yaml.safe_dump_all(docs)
    # the pod label, and reading the StatefulSet's replica count (membership reconciliation)
    assert one(docs, "Role")["rules"] == [POD_LABEL_RULE, CLUSTER_RECORD_RULES[-1]]
    assert pod["automountServiceAccountToken"] is True
    _assert_kubernetes_validate_strict(docs, tmp_path)

    # Neither the pod label, nor the record, nor the reconciliation: no Role, no RoleBinding, no token.
    docs = render(
        helm,
        None,
        "--set",
        "raft.clusterRecord.enabled=false",
        "--set",
        "raft.labelPodRole=false",
        "--set",
        "raft.reconcileMembers=false",
    )
    assert not by_kind(docs, "Role") and not by_kind(docs, "RoleBinding")
    assert _app(docs)[0]["automountServiceAccountToken"] is False


def test_cluster_record_without_the_pod_label(helm):
    docs = render(helm, None, "--set", "raft.labelPodRole=false")
    pod, env, cm = _app(docs)
    assert one(docs, "Role")["rules"] == CLUSTER_RECORD_RULES
    assert pod["automountServiceAccountToken"] is True  # the record needs the API
    assert cm["TASKRAFT_LABEL_POD_ROLE"] == "false" and "TASKRAFT_CLUSTER_ID" in env
    # rbac.create=false: the record stays on, the permissions are the operator's to grant.
    docs = render(helm, None, "--set", "rbac.create=false")
    assert not by_kind(docs, "Role") and not by_kind(docs, "RoleBinding")
    assert "TASKRAFT_CLUSTER_ID" in _app(docs)[1]


def test_cluster_record_value_is_schema_checked(helm):
    proc = run([helm, "template", RELEASE, str(CHART), "--set", "raft.clusterRecord.enabled=maybe"], check=False)
    assert proc.returncode != 0 and "clusterRecord" in proc.stderr
    proc = run(
        [helm, "template", RELEASE, str(CHART), "--set", "metrics.prometheusRule.cannotVoteFor=ten minutes"],
        check=False,
    )
    assert proc.returncode != 0 and "cannotVoteFor" in proc.stderr


def test_alerts_for_voting_and_foreign_traffic(helm):
    def rules(*extra):
        group = one(render(helm, None, *extra), "PrometheusRule")["spec"]["groups"][0]
        return {r["alert"]: r for r in group["rules"]}

    alerts = rules()
    cannot_vote, foreign = alerts["TaskraftMemberCannotVote"], alerts["TaskraftForeignRaftTraffic"]
    selector = f'{{job="{RELEASE}-taskraft-headless", namespace="{NAMESPACE}"}}'
    assert f"taskraft_raft_can_vote{selector} == 0" in cannot_vote["expr"]
    assert f"taskraft_raft_vote_withheld{selector} == 1" in cannot_vote["expr"]
    assert cannot_vote["for"] == "10m"
    for alert in (cannot_vote, foreign):
        assert "{{ $labels.pod }}" in alert["annotations"]["summary"]
        assert "docs/operations.md" in alert["annotations"]["description"]
    assert f"increase(taskraft_raft_foreign_messages_total{selector}[5m])" in foreign["expr"]
    assert "{{ $labels.peer }}" in foreign["annotations"]["description"]
    assert rules("--set", "metrics.prometheusRule.cannotVoteFor=30m")["TaskraftMemberCannotVote"]["for"] == "30m"


def test_secret_generated_or_existing(helm):
    secret = one(render(helm), "Secret")
    keys = {"mysql-root-password", "mysql-password", "raft-secret", "admin-token", "backup-token"}
    assert set(secret["data"]) == keys
    assert all(secret["data"].values())
    docs = render(helm, None, "--set", "auth.existingSecret=mine")
    assert not by_kind(docs, "Secret")
    vols = one(docs, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
    assert {v["secret"]["secretName"] for v in vols if "secret" in v} == {"mine"}


def test_helm_test_pod(helm):
    pod = one(render(helm), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    for step in ('"POST"', '"GET"', '"DELETE"'):
        assert step in script
    compile(script, "helm-test", "exec")


def test_dashboard_configmap(helm):
    cm = next(d for d in by_kind(render(helm), "ConfigMap") if d["metadata"]["name"].endswith("-dashboard"))
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dash = json.loads(cm["data"]["taskraft.json"])
    titles = {p["title"] for p in dash["panels"]}
    for needed in (
        "Role per pod",
        "Raft term",
        "Commit index vs applied index",
        "Leader changes",
        "Write rate",
        "Read rate",
        "Write latency",
        "Read latency",
        "Apply latency",
        "Errors by code",
        "Voting members",
        "Raft messages refused from another cluster",
        "Time since the last backup",
        "Backup size",
        "Backup duration",
        "Backups by outcome",
    ):
        assert needed in titles
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in (
        "raft_state",
        "raft_term",
        "raft_commit_index",
        "raft_last_applied",
        "raft_leader_changes_total",
        "http_request_duration_seconds_bucket",
        "raft_apply_duration_seconds_bucket",
        "taskraft_http_errors_total",
        "taskraft_raft_can_vote",
        "taskraft_raft_vote_withheld",
        "taskraft_raft_foreign_messages_total",
        "taskraft_backup_last_success_timestamp_seconds",
        "taskraft_backup_size_bytes",
        "taskraft_backup_duration_seconds",
        "taskraft_backups_total",
    ):
        assert metric in exprs
    voting = [t["expr"] for p in dash["panels"] if p["title"] == "Voting members" for t in p["targets"]]
    assert voting[0].startswith("max by (pod) (taskraft_raft_can_vote{")  # one row per member
    assert voting[1].startswith("max by (pod, reason) (taskraft_raft_vote_withheld{")  # and why it may not vote
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for a in dash["panels"]:  # no two panels overlap on the grid
        for b in dash["panels"]:
            if a["id"] < b["id"]:
                ga, gb = a["gridPos"], b["gridPos"]
                apart = (
                    ga["x"] + ga["w"] <= gb["x"]
                    or gb["x"] + gb["w"] <= ga["x"]
                    or ga["y"] + ga["h"] <= gb["y"]
                    or gb["y"] + gb["h"] <= ga["y"]
                )
                assert apart, f"panels {a['title']!r} and {b['title']!r} overlap"


def test_scaling_changes_no_pod_template(helm):
    """`helm upgrade --set replicaCount=5` must restart no pod: only spec.replicas and the seed change."""
    three, five = render(helm, None), render(helm, None, "--set", "replicaCount=5")
    sts3, sts5 = one(three, "StatefulSet"), one(five, "StatefulSet")
    assert (sts3["spec"]["replicas"], sts5["spec"]["replicas"]) == (3, 5)
    for sts in (sts3, sts5):  # a render generates new secrets each time (an install keeps them): not a scale
        del sts["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    assert sts3["spec"]["template"] == sts5["spec"]["template"]


def test_recovery_names_the_survivor_only_when_asked(helm):
    cm = next(d for d in by_kind(render(helm, None), "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    assert "TASKRAFT_FORCE_NEW_CLUSTER" not in cm
    docs = render(helm, None, "--set", f"recovery.forceNewCluster={STATEFULSET}-0")
    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    assert cm["TASKRAFT_FORCE_NEW_CLUSTER"] == f"{STATEFULSET}-0"
