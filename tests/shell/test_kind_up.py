"""deploy/kind/up.sh --dry-run: every command it would run, printed, none run, no tool needed; the install
publishes the client Service on the node port that deploy/kind/cluster.yaml maps to localhost:8080, with
the image it builds and loads; and the chart accepts that install as printed."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ..chart.conftest import require_tool

REPO = Path(__file__).resolve().parents[2]
UP = REPO / "deploy" / "kind" / "up.sh"
CLUSTER_CONFIG = REPO / "deploy" / "kind" / "cluster.yaml"
TOOLS = ("docker", "kind", "kubectl", "helm", "make")


def _version() -> str:
    for line in (REPO / "pyproject.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise AssertionError("no version in pyproject.toml")


def _path_without_tools(tmp_path: Path) -> str:
    """A PATH with the few plain utilities up.sh uses itself, and stubs that record any call of a tool."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for util in ("dirname", "sed", "cat"):
        (bin_dir / util).symlink_to(shutil.which(util))
    for tool in TOOLS:
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/called"\nexit 97\n')
        stub.chmod(0o755)
    return str(bin_dir)


def _up(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {"PATH": _path_without_tools(tmp_path), "HOME": str(tmp_path), **env}
    return subprocess.run(
        ["/bin/bash", str(UP), *args], env=environ, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


def _dry_run(tmp_path: Path, **env: str) -> tuple[list[list[str]], str]:
    proc = _up(tmp_path, "--dry-run", **env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    called = tmp_path / "called"
    assert not called.exists(), f"--dry-run ran: {called.read_text()}"
    commands = [shlex.split(line[2:]) for line in proc.stdout.splitlines() if line.startswith("+ ")]
    return commands, proc.stdout


def _sets(command: list[str]) -> dict[str, str]:
    return dict(command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "--set")


def _taskraft_install(commands: list[list[str]]) -> list[str]:
    (install,) = [c for c in commands if c[:3] == ["helm", "upgrade", "--install"] and c[4] == "deploy/helm/taskraft"]
    return install


def test_the_dry_run_lists_every_step_in_order_and_runs_none(tmp_path):
    commands, _ = _dry_run(tmp_path)
    version = _version()
    heads = [c[:2] for c in commands]
    expected = [
        ["kind", "create", "cluster", "--name", "taskraft", "--config", "deploy/kind/cluster.yaml", "--wait", "120s"],
        ["kubectl", "config", "use-context", "kind-taskraft"],
        ["docker", "port", "taskraft-control-plane", "30080/tcp"],
        ["make", "image", f"IMAGE=taskraft:{version}"],
        ["kind", "load", "docker-image", f"taskraft:{version}", "--name", "taskraft"],
    ]
    assert commands[: len(expected)] == expected
    assert heads[len(expected) :] == [["helm", "upgrade"], ["kubectl", "-n"], ["kubectl", "-n"], ["kubectl", "-n"]]
    assert commands[-3][3:5] == ["rollout", "status"] and commands[-2][3] == "wait"


def test_the_install_uses_the_node_port_and_the_loaded_image(tmp_path):
    commands, _ = _dry_run(tmp_path)
    install = _taskraft_install(commands)
    assert install[3] == "taskraft" and install[install.index("--namespace") + 1] == "taskraft"
    assert _sets(install) == {
        "image.repository": "taskraft",
        "image.tag": _version(),
        "image.pullPolicy": "Never",
        "replicaCount": "3",
        "service.type": "NodePort",
        "service.nodePort": "30080",
        "metrics.serviceMonitor.enabled": "false",
        "metrics.prometheusRule.enabled": "false",
    }


def test_the_knobs_reach_the_commands(tmp_path):
    values = tmp_path / "my values.yaml"
    commands, out = _dry_run(
        tmp_path,
        IMAGE="reg.example:5000/team/taskraft:dev",
        CLUSTER="other",
        NAMESPACE="ns1",
        RELEASE="tr",
        REPLICAS="5",
        VALUES=str(values),
        SKIP_BUILD="1",
        MONITORING="1",
    )
    assert not [c for c in commands if c[0] == "make"], "SKIP_BUILD=1 still builds"
    assert ["kind", "load", "docker-image", "reg.example:5000/team/taskraft:dev", "--name", "other"] in commands
    install = _taskraft_install(commands)
    sets = _sets(install)
    assert (sets["image.repository"], sets["image.tag"]) == ("reg.example:5000/team/taskraft", "dev")
    assert (sets["replicaCount"], sets["service.type"], sets["service.nodePort"]) == ("5", "NodePort", "30080")
    assert "metrics.serviceMonitor.enabled" not in sets  # monitoring on: the chart's defaults
    assert install[install.index("-f") + 1] == str(values)
    assert install[3] == "tr" and install[install.index("--namespace") + 1] == "ns1"
    # kube-prometheus-stack first, so the CRDs exist when the chart is installed
    stack = next(i for i, c in enumerate(commands) if "kube-prometheus-stack" in c)
    assert stack < commands.index(install)
    # the chart names its objects "<release>-taskraft" unless the release name contains "taskraft"
    assert ["kubectl", "-n", "ns1", "rollout", "status", "statefulset/tr-taskraft", "--timeout=10m"] in commands
    assert "get secret tr-taskraft-auth " in out and "svc/tr-taskraft-leader" in out


def test_the_closing_message_gives_the_node_port_url_first(tmp_path):
    _, out = _dry_run(tmp_path)
    message = out[out.index("taskraft is up") :]
    assert "http://localhost:8080" in message and "port-forward" in message
    assert message.index("http://localhost:8080") < message.index("port-forward")
    assert "stops working when that pod goes" in message


def test_the_closing_message_reads_the_admin_token_and_sends_it(tmp_path):
    _, out = _dry_run(tmp_path)
    message = out[out.index("taskraft is up") :]
    read = "kubectl -n taskraft get secret taskraft-auth -o jsonpath='{.data.admin-token}' | base64 -d"
    assert f'export TOKEN="$({read})"' in message
    assert message.index("export TOKEN=") < message.index("curl")
    curls = [line for line in message.splitlines() if "curl" in line]
    assert len(curls) >= 2 and all('-H "Authorization: Bearer $TOKEN"' in line for line in curls), curls
    assert 'TASKRAFT_TOKEN="$TOKEN" taskraft cluster status --url http://localhost:8080' in message


def test_the_cluster_publishes_the_node_port_on_localhost_8080(tmp_path):
    install = _taskraft_install(_dry_run(tmp_path)[0])
    config = yaml.safe_load(CLUSTER_CONFIG.read_text())
    (control_plane,) = [n for n in config["nodes"] if n["role"] == "control-plane"]
    (mapping,) = control_plane["extraPortMappings"]
    assert mapping["containerPort"] == int(_sets(install)["service.nodePort"])
    assert (mapping["hostPort"], mapping.get("protocol", "TCP")) == (8080, "TCP")
    assert [n["role"] for n in config["nodes"]].count("worker") == 3


def test_without_dry_run_the_tools_are_required(tmp_path):
    environ = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    for util in ("dirname", "sed", "cat"):
        (tmp_path / util).symlink_to(shutil.which(util))
    proc = subprocess.run(["/bin/bash", str(UP)], env=environ, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "up.sh: docker is required" in proc.stderr, proc.stdout + proc.stderr
    proc = _up(tmp_path, "--bogus")
    assert proc.returncode == 2 and "unknown argument" in proc.stderr


def test_the_chart_renders_the_printed_install(tmp_path):
    """helm template with the printed install's release, namespace and values: the chart's schema takes them,
    and the client Service is the node port."""
    helm = require_tool("helm", "HELM", "scripts/install-helm.sh .tools/bin")
    install = _taskraft_install(_dry_run(tmp_path)[0])
    args = [a for a in install[3:] if a != "--create-namespace"]
    proc = subprocess.run([helm, "template", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    (client,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "taskraft"]
    assert client["spec"]["type"] == "NodePort"
    assert [p.get("nodePort") for p in client["spec"]["ports"]] == [30080]
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    (container,) = [c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "taskraft"]
    assert (container["image"], container["imagePullPolicy"]) == (f"taskraft:{_version()}", "Never")


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(tmp_path, flag):
    proc = _up(tmp_path, flag)
    assert proc.returncode == 0 and "--dry-run" in proc.stdout and "MONITORING=1" in proc.stdout
