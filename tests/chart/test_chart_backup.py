"""Backups in the chart: the CronJob (off by default) that runs `taskraft backup` against the client Service with the
Secret's backup-only token, its claim (made by the chart and bound at install by a check Job, or an existing one),
the members' TASKRAFT_BACKUP_TOKEN_FILE, the token kept across upgrades, TLS, and the NetworkPolicies."""

from __future__ import annotations

import base64

import pytest
import yaml

from .conftest import CHART, NAMESPACE, RELEASE, by_kind, one, render, run
from .test_chart import _assert_kubernetes_validate_strict
from .test_chart_auth import _chart_with_live_secret, _notes, _render_chart

FULLNAME = f"{RELEASE}-taskraft"
BACKUP = f"{FULLNAME}-backup"
SECRET = f"{FULLNAME}-auth"
ON = ("--set", "backup.enabled=true")
TOKEN_FILE = "/etc/taskraft/secret/backup-token"
TLS = ("--set", "tls.enabled=true", "--set", "tls.existingSecret=my-tls")


def _cronjob(docs: list[dict]) -> dict:
    return one(docs, "CronJob")


def _backup_pod(docs: list[dict]) -> dict:
    return _cronjob(docs)["spec"]["jobTemplate"]["spec"]["template"]


def _backup_container(docs: list[dict]) -> dict:
    (container,) = _backup_pod(docs)["spec"]["containers"]
    return container


def _check_job(docs: list[dict]) -> dict:
    (job,) = [j for j in by_kind(docs, "Job") if j["metadata"]["name"].startswith(f"{BACKUP}-volume-")]
    return job


def _env(docs: list[dict]) -> dict:
    return next(c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == f"{FULLNAME}-env")["data"]


def _member_secret_items(docs: list[dict]) -> list[dict]:
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    return next(v for v in pod["volumes"] if v["name"] == "secret")["secret"]["items"]


def _volume_of(pod_spec: dict, container: dict, path: str) -> dict:
    """The volume behind the container's mount at `path`."""
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    return next(v for v in pod_spec["volumes"] if v["name"] == mount["name"])


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _fails(helm: str, *args: str) -> str:
    cmd = [helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args]
    proc = run(cmd, check=False)
    assert proc.returncode != 0, "the render should have failed"
    return proc.stderr


# --- off by default -------------------------------------------------------------------------------------


def test_backups_are_off_by_default_but_the_token_is_generated(helm):
    docs = render(helm)
    assert not by_kind(docs, "CronJob") and not by_kind(docs, "Job")
    assert not by_kind(docs, "PersistentVolumeClaim")
    assert [n["metadata"]["name"] for n in by_kind(docs, "NetworkPolicy")] == [FULLNAME]
    assert "TASKRAFT_BACKUP_TOKEN_FILE" not in _env(docs)
    assert "backup-token" not in {i["key"] for i in _member_secret_items(docs)}
    rules = one(docs, "PrometheusRule")["spec"]["groups"][0]["rules"]
    assert not [r for r in rules if r["alert"].startswith("TaskraftBackup")]
    # generated all the same, so turning backups on later finds it
    token = base64.b64decode(one(docs, "Secret")["data"]["backup-token"]).decode()
    admin = base64.b64decode(one(docs, "Secret")["data"]["admin-token"]).decode()
    assert len(token) >= 48 and token.isalnum() and token != admin


# --- the CronJob ----------------------------------------------------------------------------------------


def test_the_cronjob_runs_the_cli_against_the_client_service(helm):
    docs = render(helm, None, *ON, "--set", "backup.schedule=*/30 * * * *", "--set", "backup.keep=3",
                  "--set", "backup.timeZone=Europe/Berlin", "--set", "service.port=9090")  # fmt: skip
    cron = _cronjob(docs)
    assert cron["metadata"]["name"] == BACKUP and cron["metadata"]["namespace"] == NAMESPACE
    spec = cron["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["suspend"]) == ("*/30 * * * *", "Europe/Berlin", False)
    assert (spec["concurrencyPolicy"], spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (
        "Forbid",
        3,
        3,
    )
    assert spec["startingDeadlineSeconds"] == 600
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (2, 3600)
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    # the client Service as rendered: its name, namespace and port
    client = next(s for s in by_kind(docs, "Service") if s["metadata"]["name"] == FULLNAME)
    url = f"http://{client['metadata']['name']}.{client['metadata']['namespace']}.svc:{client['spec']['ports'][0]['port']}"
    container = _backup_container(docs)
    assert container["command"] == ["taskraft", "backup", "--url", url, "--out-dir", "/backups", "--keep", "3"]
    assert container["image"] == "taskraft:0.1.0"
    pod = _backup_pod(docs)["spec"]
    volume = _volume_of(pod, container, "/backups")
    assert volume["persistentVolumeClaim"] == {"claimName": BACKUP}


def test_suspend_history_retries_and_no_deadline(helm):
    docs = render(helm, None, *ON, "--set", "backup.suspend=true", "--set", "backup.concurrencyPolicy=Replace",
                  "--set", "backup.startingDeadlineSeconds=null", "--set", "backup.successfulJobsHistoryLimit=1",
                  "--set", "backup.failedJobsHistoryLimit=5", "--set", "backup.backoffLimit=0",
                  "--set", "backup.activeDeadlineSeconds=120")  # fmt: skip
    spec = _cronjob(docs)["spec"]
    assert spec["suspend"] is True and spec["concurrencyPolicy"] == "Replace" and "startingDeadlineSeconds" not in spec
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (1, 5)
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"]) == (0, 120)
    assert "timeZone" not in spec


def test_the_token_is_the_secrets_backup_token_and_the_members_accept_it(helm):
    docs = render(helm, None, *ON)
    env = {e["name"]: e for e in _backup_container(docs)["env"]}
    assert env["TASKRAFT_TOKEN"] == {
        "name": "TASKRAFT_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": SECRET, "key": "backup-token"}},
    }
    assert "TASKRAFT_CA_FILE" not in env
    # the members: the same key as a file of the Secret, named by TASKRAFT_BACKUP_TOKEN_FILE
    assert _env(docs)["TASKRAFT_BACKUP_TOKEN_FILE"] == TOKEN_FILE
    assert {"key": "backup-token", "path": "backup-token"} in _member_secret_items(docs)
    app = next(c for c in one(docs, "StatefulSet")["spec"]["template"]["spec"]["containers"] if c["name"] == "taskraft")
    assert any(m["mountPath"] == TOKEN_FILE.rpartition("/")[0] for m in app["volumeMounts"])
    # the token itself (and its base64) is in the Secret and nowhere else
    encoded = one(docs, "Secret")["data"]["backup-token"]
    others = yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"])
    assert base64.b64decode(encoded).decode() not in others and encoded not in others


def test_the_members_accept_the_rendered_backup_token(helm, tmp_path):
    """The env the chart renders, with the Secret's files where the pods mount them, is what the node reads: the
    backup token's hash, beside the admin token's."""
    settings = pytest.importorskip("taskraft.auth.settings", reason="the taskraft package is not installed")
    from taskraft.auth.tokens import hash_token

    if not hasattr(settings.AuthSettings(), "backup_token_hash"):
        pytest.xfail("this taskraft package has no backup token yet")
    docs = render(helm, None, *ON)
    env, data = dict(_env(docs)), one(docs, "Secret")["data"]
    for key in ("TASKRAFT_ADMIN_TOKEN_FILE", "TASKRAFT_BACKUP_TOKEN_FILE", "TASKRAFT_RAFT_SECRET_FILE"):
        path = tmp_path / env[key].lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data[path.name]))
        env[key] = str(path)
    read = settings.AuthSettings.from_env(env)
    assert read.backup_token_hash == hash_token(base64.b64decode(data["backup-token"]).decode())
    assert read.admin_token_hash == hash_token(base64.b64decode(data["admin-token"]).decode())
    assert read.backup_token_hash != read.admin_token_hash


def test_an_existing_secret_gives_the_backup_token_under_its_key(helm):
    docs = render(helm, None, *ON, "--set", "auth.existingSecret=mine",
                  "--set", "auth.existingSecretBackupTokenKey=backup.token")  # fmt: skip
    assert not by_kind(docs, "Secret")
    env = {e["name"]: e for e in _backup_container(docs)["env"]}
    assert env["TASKRAFT_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "mine", "key": "backup.token"}
    assert {"key": "backup.token", "path": "backup-token"} in _member_secret_items(docs)


def test_without_authentication_no_token_anywhere(helm):
    docs = render(helm, None, *ON, "--set", "auth.enabled=false")
    assert "env" not in _backup_container(docs)
    assert "TASKRAFT_BACKUP_TOKEN_FILE" not in _env(docs)
    assert "backup-token" not in {i["key"] for i in _member_secret_items(docs)}


def test_an_upgrade_keeps_the_backup_token_or_adds_one(helm, tmp_path):
    live = {"mysql-root-password": "root-pw", "mysql-password": "app-pw", "raft-secret": "r" * 48}
    kept = {**live, "admin-token": "a" * 48, "backup-token": "b" * 48}
    chart = _chart_with_live_secret(tmp_path / "kept", kept)
    for extra in ((), ("--set", "replicaCount=5")):
        data = one(_render_chart(helm, chart, *ON, *extra), "Secret")["data"]
        assert {k: base64.b64decode(v).decode() for k, v in data.items()} == kept
    # from a chart before 0.3.0: a Secret without the key gets one, and keeps everything else
    older = {**live, "admin-token": "a" * 48}
    data = one(_render_chart(helm, _chart_with_live_secret(tmp_path / "older", older)), "Secret")["data"]
    decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
    assert {k: decoded[k] for k in older} == older
    assert len(decoded["backup-token"]) >= 48 and decoded["backup-token"] != decoded["admin-token"]


def test_tls_calls_https_and_verifies_with_the_ca(helm, tmp_path):
    cert_manager = ("-f", str(CHART / "ci" / "tls-cert-manager-values.yaml"))
    for args, secret in ((TLS, "my-tls"), (cert_manager, f"{FULLNAME}-tls")):
        docs = render(helm, None, *ON, *args)
        container = _backup_container(docs)
        assert container["command"][3] == f"https://{FULLNAME}.{NAMESPACE}.svc:8080"
        env = {e["name"]: e.get("value") for e in container["env"]}
        ca = env["TASKRAFT_CA_FILE"]
        volume = _volume_of(_backup_pod(docs)["spec"], container, ca.rpartition("/")[0])
        assert volume["secret"]["secretName"] == secret
        assert volume["secret"]["items"] == [{"key": "ca.crt", "path": ca.rpartition("/")[2]}]
    _assert_kubernetes_validate_strict(docs, tmp_path)


def test_resources_security_contexts_and_scheduling(helm):
    docs = render(helm, None, *ON)
    pod, container = _backup_pod(docs)["spec"], _backup_container(docs)
    members = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    app = next(c for c in members["containers"] if c["name"] == "taskraft")
    assert pod["securityContext"] == members["securityContext"]
    assert container["securityContext"] == app["securityContext"]
    assert container["resources"] == {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
    assert pod["automountServiceAccountToken"] is False
    assert not {"nodeSelector", "tolerations", "affinity"} & set(pod)

    docs = render(helm, None, *ON, "--set", "backup.resources.limits.memory=1Gi",
                  "--set", "backup.containerSecurityContext.runAsUser=20000",
                  "--set", "backup.podSecurityContext.fsGroup=20000", "--set", "backup.nodeSelector.disk=backup",
                  "--set", "backup.tolerations[0].key=backup", "--set", "backup.tolerations[0].operator=Exists",
                  "--set", "backup.podAnnotations.a=b", "--set", "backup.podLabels.c=d")  # fmt: skip
    template = _backup_pod(docs)
    assert _backup_container(docs)["resources"]["limits"] == {"memory": "1Gi"}
    assert _backup_container(docs)["securityContext"] == {"runAsUser": 20000}
    assert template["spec"]["securityContext"] == {"fsGroup": 20000}
    assert template["metadata"]["annotations"] == {"a": "b"} and template["metadata"]["labels"]["c"] == "d"
    # the check Job's pod runs where the backups will: the same scheduling, the same claim
    check = _check_job(docs)["spec"]["template"]
    for key in ("nodeSelector", "tolerations", "securityContext"):
        assert check["spec"][key] == template["spec"][key], key
    assert check["metadata"] == template["metadata"]


def test_backup_pods_are_not_members_but_clients(helm):
    """Not selected by the StatefulSet, the Services (nor so the ServiceMonitor), the PDB or the members'
    NetworkPolicy; let through to the HTTP port as a client when only clients may reach it."""
    docs = render(helm, None, *ON, "--set", "networkPolicy.http.allowExternal=false")
    labels = _backup_pod(docs)["metadata"]["labels"]
    assert labels["app.kubernetes.io/instance"] == RELEASE and labels["app.kubernetes.io/component"] == "backup"
    assert _check_job(docs)["spec"]["template"]["metadata"]["labels"] == labels
    assert not _matches(one(docs, "StatefulSet")["spec"]["selector"]["matchLabels"], labels)
    assert not _matches(one(docs, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"], labels)
    for service in by_kind(docs, "Service"):
        assert not _matches(service["spec"]["selector"], labels), service["metadata"]["name"]
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(docs, "NetworkPolicy")}
    members = policies[FULLNAME]
    assert not _matches(members["podSelector"]["matchLabels"], labels)
    (http,) = [r for r in members["ingress"] if r["ports"][0]["port"] == 8080]
    assert any(_matches(peer["podSelector"]["matchLabels"], labels) for peer in http["from"] if "podSelector" in peer)
    # their own policy: no connection in; with egress restricted, DNS and the members' HTTP port only
    own = policies[BACKUP]
    assert _matches(own["podSelector"]["matchLabels"], labels) and own["ingress"] == []
    assert own["policyTypes"] == ["Ingress"]
    docs = render(helm, None, *ON, "--set", "networkPolicy.egress.enabled=true")
    own = next(p["spec"] for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == BACKUP)
    assert own["policyTypes"] == ["Ingress", "Egress"]
    dns, api = own["egress"]
    assert {p["port"] for p in dns["ports"]} == {53} and "to" not in dns
    assert api["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert api["to"] == [{"podSelector": {"matchLabels": one(docs, "StatefulSet")["spec"]["selector"]["matchLabels"]}}]
    assert not by_kind(render(helm, None, *ON, "--set", "networkPolicy.enabled=false"), "NetworkPolicy")


# --- where the files go ---------------------------------------------------------------------------------


def test_the_chart_makes_the_claim_and_a_job_binds_and_checks_it(helm, tmp_path):
    docs = render(helm, None, *ON, "--set", "backup.persistence.size=20Gi",
                  "--set", "backup.persistence.storageClass=nfs",
                  "--set", "backup.persistence.accessModes={ReadWriteMany}",
                  "--set", "backup.persistence.labels.l=v", "--set", "backup.persistence.annotations.a=b")  # fmt: skip
    claim = one(docs, "PersistentVolumeClaim")
    assert claim["metadata"]["name"] == BACKUP and claim["metadata"]["labels"]["l"] == "v"
    assert claim["metadata"]["annotations"] == {"a": "b", "helm.sh/resource-policy": "keep"}
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "storageClassName": "nfs",
        "resources": {"requests": {"storage": "20Gi"}},
    }
    job = _check_job(docs)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert _volume_of(job["spec"]["template"]["spec"], container, "/backups")["persistentVolumeClaim"] == {
        "claimName": BACKUP
    }
    script = container["command"][-1]
    compile(script, "volume-check", "exec")
    assert "tempfile" in script and "sys.exit" in script and container["command"][:2] == ["python3", "-c"]
    assert len(job["metadata"]["name"]) <= 63
    _assert_kubernetes_validate_strict(docs, tmp_path)

    kept = render(helm, None, *ON, "--set", "backup.persistence.keepOnUninstall=false",
                  "--set", "backup.persistence.storageClass=-")  # fmt: skip
    claim = one(kept, "PersistentVolumeClaim")
    assert "annotations" not in claim["metadata"] and claim["spec"]["storageClassName"] == ""


def test_the_check_job_is_named_after_its_spec(helm):
    """An upgrade that changes nothing in it keeps it (a Job's pod template is immutable); a new image makes
    a new one."""

    def name(*extra: str) -> str:
        return _check_job(render(helm, None, *ON, *extra))["metadata"]["name"]

    assert name() == name("--set", "replicaCount=5", "--set", "backup.keep=2")
    assert name() != name("--set", "image.tag=0.2.0")


def test_an_existing_claim_or_none(helm, tmp_path):
    docs = render(helm, None, *ON, "--set", "backup.persistence.existingClaim=files-{{ .Release.Name }}")
    assert not by_kind(docs, "PersistentVolumeClaim") and not by_kind(docs, "Job")
    volume = _volume_of(_backup_pod(docs)["spec"], _backup_container(docs), "/backups")
    assert volume["persistentVolumeClaim"] == {"claimName": f"files-{RELEASE}"}
    _assert_kubernetes_validate_strict(docs, tmp_path)

    docs = render(helm, None, *ON, "--set", "backup.persistence.enabled=false")
    assert not by_kind(docs, "PersistentVolumeClaim") and not by_kind(docs, "Job")
    assert _volume_of(_backup_pod(docs)["spec"], _backup_container(docs), "/backups") == {
        "name": "backups",
        "emptyDir": {},
    }


# --- values, NOTES --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (("--set", "backup.keep=0"), "backup.keep"),
        (("--set", "backup.concurrencyPolicy=Sometimes"), "concurrencyPolicy"),
        (("--set", "backup.alert.maxAge=2h1d"), "backup.alert.maxAge"),
        (("--set", "backup.alert.maxAge=soon"), "backup.alert.maxAge"),
        (("--set", "backup.persistence.accessModes={ReadWriteSometimes}"), "accessModes"),
        (("--set", "backup.schedulee=@daily"), "schedulee"),
        (("--set", "auth.existingSecretBackupTokenKey="), "existingSecretBackupTokenKey"),
    ],
)
def test_backup_values_are_checked(helm, args, message):
    assert message in _fails(helm, *ON, *args)


def test_values_from_a_chart_before_backups(helm, tmp_path):
    """`helm upgrade --reuse-values` from 0.2.0 brings values without these sections: the chart renders as
    before, and turning backups on then fails with the way out instead of a half-made CronJob."""
    chart = tmp_path / "taskraft"
    run(["cp", "-r", str(CHART), str(chart)])
    values = yaml.safe_load((chart / "values.yaml").read_text())
    del values["backup"], values["restore"], values["auth"]["existingSecretBackupTokenKey"]
    (chart / "values.yaml").write_text(yaml.safe_dump(values))
    docs = _render_chart(helm, chart)
    assert not by_kind(docs, "CronJob") and "TASKRAFT_RESTORE_FROM" not in _env(docs)
    proc = run([helm, "template", RELEASE, str(chart), "-n", NAMESPACE, *ON], check=False)
    assert proc.returncode != 0 and "--reset-then-reuse-values" in proc.stderr, proc.stderr
    assert "backup.schedule" in proc.stderr


def test_notes_say_how_to_take_one_now(helm, tmp_path):
    assert "Backups:" not in _notes(helm, tmp_path / "off")
    notes = _notes(helm, tmp_path / "on", *ON)
    assert f'CronJob {BACKUP} ("0 3 * * *")' in notes and f"claim {BACKUP}" in notes
    assert f"kubectl -n {NAMESPACE} create job --from=cronjob/{BACKUP} " in notes
    assert f"key backup-token of Secret {SECRET}" in notes
