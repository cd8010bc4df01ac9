"""End-to-end backups on a real Kubernetes cluster: a release with the backup CronJob on a one-minute schedule
takes backups of the tasks written to it into its claim and keeps the newest `backup.keep`; a second release in
the same namespace starts from the newest file (restore.fromBackup) and every one of its members serves those
tasks, takes new writes, and a member that later loses its volumes catches up instead of restoring again.

The claim is kind's default (local-path: ReadWriteOnce, on one node), so every pod that mounts it, the second
release's members included, runs on that node; the scheduler sees to it. Skipped, like the failover suite,
without a reachable cluster and helm.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid

import pytest

from .release_http import Http, read_admin_token
from .test_kubernetes_failover import (
    CHART,
    HELM,
    _version,
    answered,
    core,
    discovery,
    helm,
    is_ready,
    k8s,
    wait_for,
)

SOURCE = "taskraft"  # the release that takes the backups (fullname taskraft)
RESTORED = "taskraft-restored"  # the release restored from one (fullname taskraft-restored)
CLAIM = f"{SOURCE}-backup"  # the chart's claim for the backup files
CRONJOB = f"{SOURCE}-backup"
KEEP = 2
TASKS = 12
FILE_NAME = re.compile(r"^taskraft-\d{8}T\d{6}Z-i(\d+)\.backup$")
batch = k8s.BatchV1Api()
ApiException = k8s.ApiException


IMAGE = os.environ.get("TASKRAFT_E2E_IMAGE", f"taskraft:{_version()}")
PULL_POLICY = os.environ.get("TASKRAFT_E2E_PULL_POLICY", "IfNotPresent")


def _install(release: str, ns: str, sets: dict) -> None:
    repo, _, tag = IMAGE.rpartition(":")
    sets = {"image.repository": repo, "image.tag": tag, "image.pullPolicy": PULL_POLICY, "replicaCount": 3, **sets}
    values = ["-f", os.environ["TASKRAFT_E2E_VALUES"]] if os.environ.get("TASKRAFT_E2E_VALUES") else []
    options = [word for key, value in sets.items() for word in ("--set", f"{key}={value}")]
    helm("install", release, str(CHART), "--namespace", ns, *options, *values)


def _members(ns: str, release: str):
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=server"
    return core.list_namespaced_pod(ns, label_selector=selector).items


def _all_ready(ns: str, release: str) -> bool:
    pods = _members(ns, release)
    return len(pods) == 3 and all(is_ready(p) for p in pods)


def _restarts(pod) -> int:
    return sum(s.restart_count for s in pod.status.container_statuses or [] if s.name == "taskraft")


def _runs(ns: str) -> list:
    """The Jobs the CronJob made (not the claim check's)."""
    jobs = batch.list_namespaced_job(ns, label_selector=f"app.kubernetes.io/instance={SOURCE}").items
    return [
        j for j in jobs if any(o.kind == "CronJob" and o.name == CRONJOB for o in j.metadata.owner_references or [])
    ]


def _succeeded(job) -> bool:
    return bool(job.status.succeeded)


def _cluster_id(ns: str, release: str) -> str | None:
    try:
        return core.read_namespaced_config_map(f"{release}-cluster", ns).data["clusterId"]
    except ApiException:
        return None


@pytest.fixture(scope="module")
def ctx():
    ns = f"taskraft-e2e-backup-{uuid.uuid4().hex[:6]}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=ns)))
    try:
        sets = {"backup.enabled": "true", "backup.schedule": "*/1 * * * *", "backup.keep": KEEP}
        _install(SOURCE, ns, sets)
        wait_for(lambda: _all_ready(ns, SOURCE), 600, "every member of the source release ready", interval=3)
        token = read_admin_token(core, ns, f"{SOURCE}-auth")
        yield {"ns": ns, "http": Http(discovery, ns, token, SOURCE), "tasks": {}}
    finally:
        if os.environ.get("TASKRAFT_E2E_KEEP") != "1":
            for release in (RESTORED, SOURCE):
                subprocess.run([HELM, "uninstall", release, "-n", ns, "--wait"], capture_output=True, timeout=300)
            core.delete_namespace(ns)  # the backup claim too (helm keeps it on uninstall)


def test_the_check_job_bound_the_claim(ctx):
    ns = ctx["ns"]
    jobs = batch.list_namespaced_job(ns, label_selector=f"app.kubernetes.io/instance={SOURCE}").items
    (check,) = [j for j in jobs if j.metadata.name.startswith(f"{CLAIM}-volume-")]
    wait_for(lambda: _succeeded(batch.read_namespaced_job(check.metadata.name, ns)), 300, "the claim check done")
    assert core.read_namespaced_persistent_volume_claim(CLAIM, ns).status.phase == "Bound"
    pods = core.list_namespaced_pod(ns, label_selector=f"job-name={check.metadata.name}").items
    log = core.read_namespaced_pod_log(next(p for p in pods if p.status.phase == "Succeeded").metadata.name, ns)
    assert "/backups is writable" in log, log


def test_the_backup_token_takes_backups_and_nothing_else(ctx):
    ns, http = ctx["ns"], ctx["http"]
    token = read_admin_token(core, ns, f"{SOURCE}-auth", key="backup-token")
    assert token != http.token
    status, _ = wait_for(
        lambda: (lambda r: r if r[0] is not None else None)(http.call("GET", SOURCE, "/api/v1/tasks", token=token)),
        60,
        "an answer",
    )
    assert status == 403
    assert http.call("POST", SOURCE, "/api/v1/tasks", {"title": "no"}, token=token)[0] == 403
    status, body = wait_for(
        answered(200, lambda: http.call("GET", SOURCE, "/api/v1/backup", timeout=120, token=token)), 120, "a backup"
    )
    assert body, "an empty backup"


def test_write_tasks(ctx):
    http = ctx["http"]
    for i in range(TASKS):
        status, task = wait_for(answered(201, lambda i=i: http.create(f"backed up {i}")), 60, f"task {i} written")
        ctx["tasks"][task["id"]] = task["title"]
    ctx["runs_before_writes_done"] = {j.metadata.name for j in _runs(ctx["ns"])}


def _listing(ns: str, name: str) -> dict:
    """What a pod mounting the backup claim (read-only) finds there, and `taskraft backup verify` of the newest."""
    script = (
        "import json, os, subprocess, sys\n"
        "files = sorted(f for f in os.listdir('/backups') if f.endswith('.backup'))\n"
        "newest = files[-1] if files else None  # the UTC time in the name sorts them\n"
        "proc = subprocess.run(['taskraft', 'backup', 'verify', '/backups/' + newest], capture_output=True, text=True)"
        " if newest else None\n"
        "print(json.dumps({'files': files, 'newest': newest, 'verify': proc and proc.returncode,"
        " 'output': proc and (proc.stdout + proc.stderr)[-2000:]}))\n"
    )
    security = k8s.V1SecurityContext(
        run_as_non_root=True,
        run_as_user=10001,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        capabilities=k8s.V1Capabilities(drop=["ALL"]),
    )
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name),
        spec=k8s.V1PodSpec(
            restart_policy="Never",
            automount_service_account_token=False,
            containers=[
                k8s.V1Container(
                    name="list",
                    image=IMAGE,
                    image_pull_policy=PULL_POLICY,
                    command=["python3", "-c", script],
                    security_context=security,
                    volume_mounts=[
                        k8s.V1VolumeMount(name="backups", mount_path="/backups", read_only=True),
                        k8s.V1VolumeMount(name="tmp", mount_path="/tmp"),
                    ],
                )
            ],
            volumes=[
                k8s.V1Volume(
                    name="backups",
                    persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name=CLAIM, read_only=True),
                ),
                k8s.V1Volume(name="tmp", empty_dir=k8s.V1EmptyDirVolumeSource()),
            ],
        ),
    )
    core.create_namespaced_pod(ns, pod)
    wait_for(
        lambda: core.read_namespaced_pod(name, ns).status.phase in ("Succeeded", "Failed"), 300, f"pod {name} done"
    )
    log = core.read_namespaced_pod_log(name, ns)
    return json.loads(log.strip().splitlines()[-1])


def test_scheduled_runs_write_files_and_keep_the_newest(ctx):
    ns = ctx["ns"]
    before = ctx["runs_before_writes_done"]
    # a run started after every task was acknowledged holds them all; three runs let retention delete one
    wait_for(
        lambda: (
            any(_succeeded(j) and j.metadata.name not in before for j in _runs(ns))
            and len([j for j in _runs(ns) if _succeeded(j)]) >= KEEP + 1
        ),
        600,
        f"{KEEP + 1} successful scheduled runs, one after the writes",
        interval=5,
    )
    # stop the schedule (an upgrade that waits: the claim is bound), then let a run under way finish
    helm("upgrade", SOURCE, str(CHART), "-n", ns, "--reuse-values", "--set", "backup.suspend=true", "--wait")
    wait_for(lambda: not any(j.status.active for j in _runs(ns)), 300, "no run under way")
    listing = _listing(ns, "list-backups")
    print(f"\nbackup files: {listing['files']}; verify: {listing['output']}")
    assert len(listing["files"]) == KEEP, listing
    assert all(FILE_NAME.match(f) for f in listing["files"]), listing
    assert listing["verify"] == 0, listing["output"]
    ctx["backup"] = listing["newest"]


def test_a_new_release_starts_from_the_backup_on_every_member(ctx):
    ns = ctx["ns"]
    if "backup" not in ctx:
        pytest.skip("no backup file (the test before failed)")
    _install(RESTORED, ns, {"restore.fromBackup.claimName": CLAIM, "restore.fromBackup.path": ctx["backup"]})
    wait_for(lambda: _all_ready(ns, RESTORED), 900, "every member of the restored release ready", interval=3)
    http = Http(discovery, ns, read_admin_token(core, ns, f"{RESTORED}-auth"), RESTORED)
    ctx["restored"] = http
    for pod in _members(ns, RESTORED):
        if _restarts(pod) == 0:  # a restarted container logs that it already holds Raft state instead
            log = core.read_namespaced_pod_log(pod.metadata.name, ns, container="taskraft")
            assert f"restore: loaded /restore/{ctx['backup']}" in log, pod.metadata.name
    for pod in _members(ns, RESTORED):
        target = f"pod/{pod.metadata.name}"
        for task_id, title in ctx["tasks"].items():
            status, got = wait_for(
                answered(200, lambda t=task_id, p=target: http.get(t, target=p, local=True)),
                120,
                f"task {task_id} on {pod.metadata.name}",
            )
            assert got["title"] == title
    # a cluster of its own: a new id, new writes
    record = wait_for(lambda: _cluster_id(ns, RESTORED), 120, "the restored release's cluster record")
    assert record != _cluster_id(ns, SOURCE)
    status, task = wait_for(answered(201, lambda: http.create("after the restore")), 60, "a write after the restore")
    for pod in _members(ns, RESTORED):
        wait_for(
            answered(200, lambda p=pod.metadata.name: http.get(task["id"], target=f"pod/{p}", local=True)),
            120,
            f"the new write on {pod.metadata.name}",
        )
    ctx["after_restore"] = task
    # the source release goes on as it was
    assert ctx["http"].get(next(iter(ctx["tasks"])))[0] == 200


def test_a_member_that_loses_its_volumes_catches_up_instead_of_restoring(ctx):
    """TASKRAFT_RESTORE_FROM is still set, but the cluster record exists: the rebuilt member rejoins the same
    cluster and gets the write made after the restore (which no backup holds) from the leader."""
    ns = ctx["ns"]
    if "after_restore" not in ctx:
        pytest.skip("no restored release (the test before failed)")
    http = ctx["restored"]
    leader_selector = f"app.kubernetes.io/instance={RESTORED},taskraft.io/role=leader"
    leader = wait_for(lambda: core.list_namespaced_pod(ns, label_selector=leader_selector).items, 60, "a leader")[0]
    follower = next(p for p in _members(ns, RESTORED) if p.metadata.name != leader.metadata.name)
    name, uid = follower.metadata.name, follower.metadata.uid
    for claim in (f"mysql-data-{name}", f"raft-data-{name}"):
        core.delete_namespaced_persistent_volume_claim(claim, ns)
    core.delete_namespaced_pod(name, ns)
    wait_for(
        lambda: any(p.metadata.name == name and p.metadata.uid != uid for p in _members(ns, RESTORED)),
        300,
        "the follower recreated",
    )
    wait_for(lambda: _all_ready(ns, RESTORED), 600, "the rebuilt follower ready", interval=3)
    task = ctx["after_restore"]
    status, got = wait_for(
        answered(200, lambda: http.get(task["id"], target=f"pod/{name}", local=True)), 300, "the later write"
    )
    assert got["title"] == "after the restore"
    status, view = wait_for(answered(200, lambda: http.call("GET", f"pod/{name}", "/api/v1/cluster")), 60, "view")
    assert view["cluster_id"] == _cluster_id(ns, RESTORED)
    rebuilt = next(p for p in _members(ns, RESTORED) if p.metadata.name == name)
    if _restarts(rebuilt) == 0:
        log = core.read_namespaced_pod_log(name, ns, container="taskraft")
        assert "restore: skipped, the cluster record names cluster" in log, "the rebuilt member did not skip it"
        assert "restore: loaded" not in log
