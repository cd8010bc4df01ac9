"""Each value beyond the defaults renders as documented (helm template with --set or -f, parsed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .conftest import CHART, NAMESPACE, RELEASE, by_kind, one, render, run

FULLNAME = f"{RELEASE}-taskraft"
ALL_OPTIONS = CHART / "ci" / "all-options-values.yaml"
DIGEST = "sha256:" + "ab" * 32


def _values(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _render_values(helm: str, tmp_path: Path, values: dict) -> list[dict]:
    """A render with these values, uncached (conftest.render caches by file name)."""
    return [d for d in yaml.safe_load_all(_template(helm, "-f", str(_values(tmp_path, values))).stdout) if d]


def _template(helm: str, *args: str, check: bool = True):
    cmd = [helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args]
    cmd += ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"]
    cmd += ["--api-versions", "monitoring.coreos.com/v1/PrometheusRule"]
    return run(cmd, check=check)


def _pod(docs: list[dict]) -> dict:
    return one(docs, "StatefulSet")["spec"]["template"]["spec"]


def _container(docs: list[dict], name: str = "taskraft") -> dict:
    pod = _pod(docs)
    return next(c for c in pod["containers"] + pod["initContainers"] if c["name"] == name)


def _service(docs: list[dict], suffix: str = "") -> dict:
    return next(s for s in by_kind(docs, "Service") if s["metadata"]["name"] == FULLNAME + suffix)


def _fails(helm: str, *args: str) -> str:
    proc = _template(helm, *args, check=False)
    assert proc.returncode != 0, "the render should have failed"
    return proc.stderr


# --- labels and annotations ---------------------------------------------------------------------------


def test_common_labels_and_annotations_on_every_object(helm):
    docs = render(
        helm,
        None,
        "--set", "commonLabels.team=platform",
        "--set", "commonAnnotations.example\\.com/owner=ops",
        "--set", "ingress.enabled=true",
        "--set", "service.annotations.a=b",
    )  # fmt: skip
    assert len(docs) > 10
    for doc in docs:
        meta = doc["metadata"]
        assert meta["labels"]["team"] == "platform", (doc["kind"], meta["name"])
        assert meta["annotations"]["example.com/owner"] == "ops", (doc["kind"], meta["name"])
        # the chart's own labels stay
        assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE
    pod_meta = one(docs, "StatefulSet")["spec"]["template"]["metadata"]
    assert pod_meta["labels"]["team"] == "platform"
    assert "example.com/owner" not in pod_meta["annotations"]  # podAnnotations are the pods'
    # an object's own annotations are kept beside the common ones
    assert _service(docs)["metadata"]["annotations"] == {"a": "b", "example.com/owner": "ops"}
    # the selector never changes (it is immutable)
    assert one(docs, "StatefulSet")["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "taskraft",
        "app.kubernetes.io/instance": RELEASE,
    }
    # the helm test hook stays a hook
    pod = one(docs, "Pod")["metadata"]["annotations"]
    assert pod["helm.sh/hook"] == "test" and pod["example.com/owner"] == "ops"


def test_common_labels_cannot_replace_the_charts_own(helm):
    docs = render(helm, None, "--set", "commonLabels.app\\.kubernetes\\.io/instance=other")
    for doc in docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    pod_labels = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["app.kubernetes.io/instance"] == RELEASE


def test_no_annotations_by_default(helm):
    for doc in render(helm):
        if doc["kind"] != "Pod":  # the helm test hook
            assert "annotations" not in doc["metadata"], (doc["kind"], doc["metadata"]["name"])


# --- images -------------------------------------------------------------------------------------------


def test_image_registry_digest_and_global_registry(helm):
    assert _container(render(helm))["image"] == "taskraft:0.1.0"
    docs = render(helm, None, "--set", "image.registry=registry.example.com/acme", "--set", "image.tag=1.2")
    assert _container(docs)["image"] == "registry.example.com/acme/taskraft:1.2"
    docs = render(helm, None, "--set", "image.registry=r.example.com", "--set", f"image.digest={DIGEST}")
    assert _container(docs)["image"] == f"r.example.com/taskraft@{DIGEST}"  # the digest wins over the tag
    assert one(docs, "Pod")["spec"]["containers"][0]["image"] == f"r.example.com/taskraft@{DIGEST}"

    docs = render(helm, None, "--set", "global.imageRegistry=mirror.example.com", "--set", "image.registry=ignored")
    assert _container(docs)["image"] == "mirror.example.com/taskraft:0.1.0"
    assert _container(docs, "mysql")["image"] == "mirror.example.com/mysql:8.4"
    docs = render(helm, None, "--set", f"mysql.image.digest={DIGEST}", "--set", "mysql.image.registry=docker.io")
    assert _container(docs, "mysql")["image"] == f"docker.io/mysql@{DIGEST}"


def test_image_digest_is_schema_checked(helm):
    assert "digest" in _fails(helm, "--set", "image.digest=latest")


# --- extra env, volumes, containers -------------------------------------------------------------------


def test_extra_env_volumes_and_containers_are_rendered_with_tpl(helm, tmp_path):
    docs = _render_values(
        helm,
        tmp_path,
        {
            "extraEnvVars": [{"name": "RELEASE", "value": "{{ .Release.Name }}"}],
            "extraEnvVarsCM": "{{ .Release.Name }}-settings",
            "extraEnvVarsSecret": "tokens",
            "extraVolumes": [{"name": "extra", "configMap": {"name": "{{ .Release.Name }}-files"}}],
            "extraVolumeMounts": [{"name": "extra", "mountPath": "/etc/extra"}],
            "initContainers": [{"name": "prepare", "image": "{{ .Values.mysql.image.repository }}:x"}],
            "sidecars": [{"name": "helper", "image": "busybox", "args": ["{{ .Values.http.port }}"]}],
        },
    )
    pod = _pod(docs)
    app = _container(docs)
    assert {"name": "RELEASE", "value": RELEASE} in app["env"]
    assert app["envFrom"][2:] == [{"configMapRef": {"name": f"{RELEASE}-settings"}}, {"secretRef": {"name": "tokens"}}]
    assert {"name": "extra", "configMap": {"name": f"{RELEASE}-files"}} in pod["volumes"]
    assert {"name": "extra", "mountPath": "/etc/extra"} in app["volumeMounts"]
    # the database sidecar first (native sidecar), then the extra init containers, which can reach it
    assert [c["name"] for c in pod["initContainers"]] == ["mysql", "prepare"]
    assert pod["initContainers"][1]["image"] == "mysql:x"
    assert [c["name"] for c in pod["containers"]] == ["taskraft", "helper"]
    assert pod["containers"][1]["args"] == ["8080"]


def test_extra_env_comes_after_the_charts_own(helm):
    app = _container(render(helm, None, "--set", "extraEnvVars[0].name=TASKRAFT_REQUEST_TIMEOUT",
                            "--set-string", "extraEnvVars[0].value=9"))  # fmt: skip
    assert app["env"][-1] == {"name": "TASKRAFT_REQUEST_TIMEOUT", "value": "9"}  # env wins over envFrom


# --- services and ingress -----------------------------------------------------------------------------


def test_service_types(helm):
    docs = render(helm)
    client = _service(docs)["spec"]
    assert client["type"] == "ClusterIP" and "nodePort" not in client["ports"][0]
    assert "externalTrafficPolicy" not in client

    docs = render(helm, None, "--set", "service.type=NodePort", "--set", "service.nodePort=30080")
    client = _service(docs)["spec"]
    assert client["type"] == "NodePort" and client["ports"][0]["nodePort"] == 30080
    assert client["ports"][0]["targetPort"] == "http" and client["externalTrafficPolicy"] == "Cluster"
    # the headless and leader Services stay inside the cluster
    assert _service(docs, "-headless")["spec"]["type"] == "ClusterIP"
    assert _service(docs, "-leader")["spec"]["type"] == "ClusterIP"

    docs = render(
        helm,
        None,
        "--set", "service.type=LoadBalancer",
        "--set", "service.loadBalancerIP=192.0.2.10",
        "--set", "service.loadBalancerSourceRanges={10.0.0.0/8,192.168.0.0/16}",
        "--set", "service.externalTrafficPolicy=Local",
    )  # fmt: skip
    client = _service(docs)["spec"]
    assert client["type"] == "LoadBalancer" and client["loadBalancerIP"] == "192.0.2.10"
    assert client["loadBalancerSourceRanges"] == ["10.0.0.0/8", "192.168.0.0/16"]
    assert client["externalTrafficPolicy"] == "Local"
    # a NodePort Service has no load balancer fields even when they are set
    docs = render(helm, None, "--set", "service.type=NodePort", "--set", "service.loadBalancerIP=192.0.2.10")
    assert "loadBalancerIP" not in _service(docs)["spec"]


def test_service_values_are_checked(helm):
    assert "service.nodePort (30080) needs service.type NodePort or LoadBalancer" in _fails(
        helm, "--set", "service.nodePort=30080"
    )
    assert "type" in _fails(helm, "--set", "service.type=ExternalName")
    assert "externalTrafficPolicy" in _fails(helm, "--set", "service.type=NodePort",
                                             "--set", "service.externalTrafficPolicy=Nearest")  # fmt: skip


def test_annotations_on_every_service(helm):
    docs = render(
        helm,
        None,
        "--set", "service.annotations.client=yes",
        "--set", "service.headless.annotations.headless=yes",
        "--set", "leaderService.annotations.leader=yes",
    )  # fmt: skip
    assert _service(docs)["metadata"]["annotations"] == {"client": "yes"}
    assert _service(docs, "-headless")["metadata"]["annotations"] == {"headless": "yes"}
    assert _service(docs, "-leader")["metadata"]["annotations"] == {"leader": "yes"}


def test_ingress(helm, tmp_path):
    assert not by_kind(render(helm), "Ingress")
    docs = _render_values(
        helm,
        tmp_path,
        {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
                "hosts": [
                    {
                        "host": "tasks.{{ .Release.Namespace }}.example.com",
                        "paths": [{"path": "/", "pathType": "Prefix"}],
                    },
                    {"host": "", "paths": [{"path": "/api", "pathType": "ImplementationSpecific"}]},
                ],
                "tls": [{"hosts": ["tasks.demo.example.com"], "secretName": "tasks-tls"}],
            }
        },
    )
    ingress = one(docs, "Ingress")
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["tasks.demo.example.com"], "secretName": "tasks-tls"}]
    backend = {"service": {"name": FULLNAME, "port": {"number": 8080}}}
    assert spec["rules"] == [
        {"host": f"tasks.{NAMESPACE}.example.com",
         "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}},
        {"http": {"paths": [{"path": "/api", "pathType": "ImplementationSpecific", "backend": backend}]}},
    ]  # fmt: skip
    # the backend is the client Service, on its port
    assert _service(docs)["spec"]["ports"][0]["port"] == 8080


def test_ingress_values_are_checked(helm):
    assert "pathType" in _fails(helm, "--set", "ingress.enabled=true", "--set", "ingress.hosts[0].host=a",
                                "--set", "ingress.hosts[0].paths[0].path=/",
                                "--set", "ingress.hosts[0].paths[0].pathType=Anything")  # fmt: skip
    assert "ingress.enabled needs at least one entry in ingress.hosts" in _fails(
        helm, "--set", "ingress.enabled=true", "--set", "ingress.hosts=null"
    )


# --- StatefulSet --------------------------------------------------------------------------------------


def test_update_strategy(helm):
    assert one(render(helm), "StatefulSet")["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    docs = render(helm, None, "--set", "updateStrategy.rollingUpdate.partition=2")
    assert one(docs, "StatefulSet")["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                                                  "rollingUpdate": {"partition": 2}}  # fmt: skip
    docs = render(helm, None, "--set", "updateStrategy.type=OnDelete")
    assert one(docs, "StatefulSet")["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert "updateStrategy" in _fails(helm, "--set", "updateStrategy.type=Recreate")


def test_persistence_classes_sizes_labels_annotations(helm):
    claims = {t["metadata"]["name"]: t for t in one(render(helm), "StatefulSet")["spec"]["volumeClaimTemplates"]}
    assert "storageClassName" not in claims["mysql-data"]["spec"]  # the cluster default
    assert claims["mysql-data"]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert claims["raft-data"]["spec"]["resources"]["requests"]["storage"] == "1Gi"

    docs = render(
        helm,
        None,
        "--set", "persistence.storageClass=standard",
        "--set", "persistence.mysql.storageClass=fast",
        "--set", "persistence.mysql.size=10Gi",
        "--set", "persistence.raft.size=3Gi",
        "--set", "persistence.labels.backup=daily",
        "--set", "persistence.annotations.note=kept",
        "--set", "persistence.accessModes={ReadWriteOncePod}",
        "--set", "commonLabels.team=platform",
    )  # fmt: skip
    claims = {t["metadata"]["name"]: t for t in one(docs, "StatefulSet")["spec"]["volumeClaimTemplates"]}
    mysql, raft = claims["mysql-data"], claims["raft-data"]
    assert mysql["spec"]["storageClassName"] == "fast" and raft["spec"]["storageClassName"] == "standard"
    assert mysql["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert raft["spec"]["resources"]["requests"]["storage"] == "3Gi"
    for claim in (mysql, raft):
        assert claim["spec"]["accessModes"] == ["ReadWriteOncePod"]
        assert claim["metadata"]["annotations"] == {"note": "kept"}
        # commonLabels stay off the claim templates: a later change of them would make every upgrade fail
        assert claim["metadata"]["labels"] == {"app.kubernetes.io/name": "taskraft",
                                               "app.kubernetes.io/instance": RELEASE, "backup": "daily"}  # fmt: skip

    docs = render(helm, None, "--set", "persistence.storageClass=-")
    for claim in one(docs, "StatefulSet")["spec"]["volumeClaimTemplates"]:
        assert claim["spec"]["storageClassName"] == ""  # no dynamic provisioning


def test_existing_claim_for_one_member(helm):
    docs = render(helm, None, "--set", "replicaCount=1", "--set", "persistence.existingClaim=taskraft-data")
    sts = one(docs, "StatefulSet")["spec"]
    assert "volumeClaimTemplates" not in sts and "persistentVolumeClaimRetentionPolicy" not in sts
    volumes = {v["name"]: v for v in sts["template"]["spec"]["volumes"]}
    for name in ("mysql-data", "raft-data"):
        assert volumes[name]["persistentVolumeClaim"] == {"claimName": "taskraft-data"}
    # MySQL's datadir and the Raft state are different directories of the one claim
    mysql = _container(docs, "mysql")
    assert "--datadir=/var/lib/mysql/data" in mysql["args"]
    assert {"name": "mysql-data", "mountPath": "/var/lib/mysql"} in mysql["volumeMounts"]
    assert {"name": "raft-data", "mountPath": "/var/lib/taskraft"} in _container(docs)["volumeMounts"]
    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    assert cm["TASKRAFT_DATA_DIR"] == "/var/lib/taskraft/raft"

    err = _fails(helm, "--set", "persistence.existingClaim=taskraft-data")
    assert "persistence.existingClaim (taskraft-data) holds the data of one member only" in err
    assert "replicaCount=1 (got 3)" in err


def test_persistence_off_uses_empty_dirs(helm):
    docs = render(helm, None, "--set", "persistence.enabled=false", "--set", "persistence.existingClaim=ignored")
    sts = one(docs, "StatefulSet")["spec"]
    assert "volumeClaimTemplates" not in sts
    volumes = {v["name"]: v for v in sts["template"]["spec"]["volumes"]}
    assert volumes["mysql-data"] == {"name": "mysql-data", "emptyDir": {}}


def test_mysql_config(helm, tmp_path):
    docs = render(helm)
    cnf = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"] == f"{FULLNAME}-mysql")
    text = cnf["data"]["taskraft.cnf"]
    assert "[mysqld]" in text and "collation-server = utf8mb4_bin" in text
    assert "innodb_flush_log_at_trx_commit = 1" in text
    mysql = _container(docs, "mysql")
    assert {"name": "mysql-config", "mountPath": "/etc/mysql/conf.d/taskraft.cnf", "subPath": "taskraft.cnf",
            "readOnly": True} in mysql["volumeMounts"]  # fmt: skip
    assert {"name": "mysql-config", "configMap": {"name": f"{FULLNAME}-mysql"}} in _pod(docs)["volumes"]

    extra = _render_values(helm, tmp_path, {"mysql": {"config": "[mysqld]\nmax_connections = {{ add 100 50 }}\n"}})
    cnf = next(d for d in by_kind(extra, "ConfigMap") if d["metadata"]["name"] == f"{FULLNAME}-mysql")
    assert cnf["data"]["taskraft.cnf"].startswith(text.rstrip("\n"))  # appended to the defaults
    assert cnf["data"]["taskraft.cnf"].endswith("[mysqld]\nmax_connections = 150\n")
    # a change of the configuration restarts the pods
    before = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]["checksum/mysql-config"]
    after = one(extra, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]["checksum/mysql-config"]
    assert before != after


def test_mariadb_reads_the_same_config_dir(helm):
    docs = render(helm, CHART / "ci" / "mariadb-values.yaml")
    mounts = {m["mountPath"] for m in _container(docs, "mysql")["volumeMounts"]}
    assert "/etc/mysql/conf.d/taskraft.cnf" in mounts


# --- monitoring ---------------------------------------------------------------------------------------


def test_service_monitor_options(helm, tmp_path):
    docs = _render_values(
        helm,
        tmp_path,
        {
            "metrics": {
                "serviceMonitor": {
                    "namespace": "monitoring",
                    "interval": "30s",
                    "scrapeTimeout": "20s",
                    "labels": {"release": "kube-prometheus-stack"},
                    "relabelings": [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}],
                    "metricRelabelings": [{"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"}],
                }
            }
        },
    )
    sm = one(docs, "ServiceMonitor")
    assert sm["metadata"]["namespace"] == "monitoring"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}  # the members stay where they are
    (endpoint,) = sm["spec"]["endpoints"]
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("30s", "20s")
    assert endpoint["relabelings"] == [{"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}]
    assert endpoint["metricRelabelings"] == [{"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"}]
    assert "relabelings" not in one(render(helm), "ServiceMonitor")["spec"]["endpoints"][0]


def test_prometheus_rule_namespace_labels_and_additional_rules(helm, tmp_path):
    rule = {"alert": "TaskraftCustom", "expr": "up == 0", "for": "5m", "labels": {"severity": "info"},
            "annotations": {"summary": "{{ $labels.pod }} is down"}}  # fmt: skip
    record = {"record": "taskraft:ready:sum", "expr": "sum(taskraft_node_ready)"}
    docs = _render_values(
        helm,
        tmp_path,
        {"metrics": {"prometheusRule": {"namespace": "monitoring", "labels": {"release": "kps"},
                                        "additionalRules": [rule, record]}}},
    )  # fmt: skip
    pr = one(docs, "PrometheusRule")
    assert pr["metadata"]["namespace"] == "monitoring" and pr["metadata"]["labels"]["release"] == "kps"
    groups = pr["spec"]["groups"]
    default_groups = one(render(helm), "PrometheusRule")["spec"]["groups"]
    assert groups[: len(default_groups)] == default_groups  # the chart's alerts come first, unchanged
    assert groups[-1] == {"name": "taskraft.additional", "rules": [rule, record]}  # templates left as given
    assert [g["name"] for g in default_groups] == ["taskraft.rules"]


def test_additional_rules_pass_promtool(helm, tmp_path):
    from .conftest import require_tool

    promtool = require_tool("promtool", install="scripts/install-chart-tools.sh (apt package prometheus)")
    rule = {"alert": "TaskraftCustom", "expr": "up == 0", "for": "5m", "annotations": {"summary": "{{ $labels.pod }}"}}
    docs = _render_values(helm, tmp_path, {"metrics": {"prometheusRule": {"additionalRules": [rule]}}})
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": one(docs, "PrometheusRule")["spec"]["groups"]}))
    proc = run([promtool, "check", "rules", str(rules)])
    chart_rules = sum(len(g["rules"]) for g in one(render(helm), "PrometheusRule")["spec"]["groups"])
    assert f"SUCCESS: {chart_rules + 1} rules found" in proc.stdout  # the chart's, and the one added


# --- disruption budget and network policy -------------------------------------------------------------


def test_pdb_min_or_max(helm):
    assert one(render(helm), "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    spec = one(render(helm, None, "--set", "pdb.minAvailable=2"), "PodDisruptionBudget")["spec"]
    assert spec["minAvailable"] == 2 and "maxUnavailable" not in spec
    spec = one(render(helm, None, "--set", "pdb.minAvailable=51%"), "PodDisruptionBudget")["spec"]
    assert spec["minAvailable"] == "51%"
    spec = one(render(helm, None, "--set", "pdb.maxUnavailable=2"), "PodDisruptionBudget")["spec"]
    assert spec["maxUnavailable"] == 2 and "minAvailable" not in spec
    err = _fails(helm, "--set", "pdb.minAvailable=2", "--set", "pdb.maxUnavailable=1")
    assert "pdb.minAvailable (2) and pdb.maxUnavailable (1) are mutually exclusive" in err


def test_validation_names_every_error_at_once(helm):
    err = _fails(helm, "--set", "pdb.minAvailable=2", "--set", "pdb.maxUnavailable=1",
                 "--set", "service.nodePort=30080", "--skip-schema-validation", "--set", "replicaCount=4")  # fmt: skip
    for part in ("replicaCount must be an odd number", "mutually exclusive", "service.nodePort"):
        assert part in err


def test_network_policy_default_has_no_egress_rules(helm):
    np = one(render(helm), "NetworkPolicy")["spec"]
    assert np["policyTypes"] == ["Ingress"] and "egress" not in np


def test_network_policy_egress_and_extra_rules(helm, tmp_path):
    extra_in = {"ports": [{"port": 9000, "protocol": "TCP"}],
                "from": [{"podSelector": {"matchLabels": {"app": "{{ .Release.Name }}-probe"}}}]}  # fmt: skip
    extra_out = {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}]}
    docs = _render_values(
        helm,
        tmp_path,
        {"networkPolicy": {"extraIngress": [extra_in], "egress": {"enabled": True}, "extraEgress": [extra_out]}},
    )
    np = one(docs, "NetworkPolicy")["spec"]
    members = {"podSelector": {"matchLabels": np["podSelector"]["matchLabels"]}}
    assert np["policyTypes"] == ["Ingress", "Egress"]
    assert np["ingress"][-1]["from"] == [{"podSelector": {"matchLabels": {"app": f"{RELEASE}-probe"}}}]
    dns, peers, api, extra = np["egress"]
    assert dns == {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    assert peers == {"ports": [{"port": 7000, "protocol": "TCP"}, {"port": 8080, "protocol": "TCP"}], "to": [members]}
    assert api == {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}
    assert extra == extra_out

    # the API server named by address; no API rule when the members do not use the API
    docs = render(
        helm,
        None,
        "--set", "networkPolicy.egress.enabled=true",
        "--set", "networkPolicy.egress.kubernetesApi.ports={6443}",
        "--set", "networkPolicy.egress.kubernetesApi.to[0].ipBlock.cidr=172.18.0.2/32",
    )  # fmt: skip
    api = one(docs, "NetworkPolicy")["spec"]["egress"][2]
    assert api == {"ports": [{"port": 6443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "172.18.0.2/32"}}]}
    docs = render(
        helm,
        None,
        "--set", "networkPolicy.egress.enabled=true",
        "--set", "raft.labelPodRole=false",
        "--set", "raft.clusterRecord.enabled=false",
        "--set", "raft.reconcileMembers=false",
    )  # fmt: skip
    assert len(one(docs, "NetworkPolicy")["spec"]["egress"]) == 2  # DNS and the members

    err = _fails(helm, "--set", "networkPolicy.extraEgress[0].ports[0].port=443")
    assert "networkPolicy.extraEgress has no effect unless" in err


# --- the values file with most options ----------------------------------------------------------------


def test_all_options_values_file(helm):
    docs = render(helm, ALL_OPTIONS)
    app = _container(docs)
    assert app["image"].startswith("registry.example.com/acme/taskraft@sha256:")
    assert _service(docs)["spec"]["type"] == "NodePort"
    assert _service(docs)["spec"]["ports"][0]["nodePort"] == 30080
    assert one(docs, "Ingress")["spec"]["tls"]
    assert [c["name"] for c in _pod(docs)["initContainers"]] == ["mysql", "fill-scratch"]
    assert [c["name"] for c in _pod(docs)["containers"]] == ["taskraft", "scratch-server"]
    assert "volumeClaimTemplates" in one(docs, "StatefulSet")["spec"]  # no existingClaim
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    members, backups = sorted(by_kind(docs, "NetworkPolicy"), key=lambda d: d["metadata"]["name"])
    assert members["metadata"]["name"] == FULLNAME and backups["metadata"]["name"] == f"{FULLNAME}-backup"
    assert "Egress" in members["spec"]["policyTypes"] and "Egress" in backups["spec"]["policyTypes"]
    assert one(docs, "CronJob")["spec"]["schedule"] == "30 2 * * *"
    assert app["envFrom"][-1] == {"configMapRef": {"name": f"{FULLNAME}-env"}}
    for doc in docs:
        assert doc["metadata"]["labels"]["team"] == "platform"


def test_scaling_keeps_the_pod_template_with_every_option(helm):
    """With most options on, a change of replicaCount still changes nothing the pods are made from."""
    three, five = render(helm, ALL_OPTIONS), render(helm, ALL_OPTIONS, "--set", "replicaCount=5")
    sts3, sts5 = one(three, "StatefulSet"), one(five, "StatefulSet")
    for sts in (sts3, sts5):
        del sts["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]  # new random secrets per render
    assert sts3["spec"]["template"] == sts5["spec"]["template"]


@pytest.mark.parametrize("values", [None, ALL_OPTIONS], ids=["defaults", "all-options"])
def test_checksums_do_not_follow_the_replica_count(helm, values):
    def checksums(*extra: str) -> dict:
        annotations = one(render(helm, values, *extra), "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
        return {k: v for k, v in annotations.items() if k.startswith("checksum/") and k != "checksum/secret"}

    assert checksums() == checksums("--set", "replicaCount=5")
    assert set(checksums()) == {"checksum/config", "checksum/mysql-config"}


STRICT_VARIANTS = {
    "one-member-existing-claim": ("--set", "replicaCount=1", "--set", "persistence.existingClaim=data"),
    "load-balancer": (
        "--set", "service.type=LoadBalancer",
        "--set", "service.loadBalancerSourceRanges={10.0.0.0/8}",
        "--set", "service.externalTrafficPolicy=Local",
        "--set", "pdb.minAvailable=51%",
        "--set", "persistence.storageClass=-",
    ),
    "egress-without-api": (
        "--set", "networkPolicy.egress.enabled=true",
        "--set", "raft.labelPodRole=false",
        "--set", "raft.clusterRecord.enabled=false",
        "--set", "raft.reconcileMembers=false",
        "--set", "updateStrategy.type=OnDelete",
    ),
}  # fmt: skip


@pytest.mark.parametrize("variant", sorted(STRICT_VARIANTS))
def test_more_variants_pass_kubernetes_validate_strict(helm, tmp_path, variant):
    """Value combinations beyond the ci/ files validate strictly too."""
    from .test_chart import _assert_kubernetes_validate_strict

    _assert_kubernetes_validate_strict(render(helm, None, *STRICT_VARIANTS[variant]), tmp_path)
