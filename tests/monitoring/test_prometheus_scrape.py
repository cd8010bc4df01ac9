"""A real Prometheus scrapes a real local cluster; every dashboard query and every alert expression of
the chart must find series in the real metrics (no empty panel because of a misspelt metric or label)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from ..chart.conftest import find_tool
from ..conftest import missing_tool
from ..helpers import free_port, post_task, wait_until

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "taskraft"
DASHBOARD = CHART / "files" / "grafana-dashboard.json"
NAMESPACE, JOB = "default", "taskraft-headless"
GRAFANA_VARIABLES = {"$namespace": NAMESPACE, "$job": JOB, "$__rate_interval": "1m", "$__interval": "15s",
                     "$__range": "5m"}
# Alert expressions reference release labels; this is the selector the chart renders them with.
METRIC_RE = re.compile(r"\b([a-z_][a-z0-9_]*)\{")
PROMQL_FUNCTIONS = {"sum", "max", "min", "count", "rate", "increase", "changes", "histogram_quantile", "vector", "on",
                    "group_right", "by", "and", "or", "avg"}


def _helm() -> str:
    helm = find_tool("helm", "HELM")
    if not helm:
        missing_tool("helm is not installed (scripts/install-helm.sh installs it)")
    return helm


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if not binary:
        missing_tool("Debian's prometheus package is not installed (scripts/install-chart-tools.sh installs it)")
    return binary


@pytest.fixture(scope="module")
def prometheus(prometheus_binary, cluster, tmp_path_factory):  # the binary first: no cluster started for a skip
    binary = prometheus_binary
    work = tmp_path_factory.mktemp("prometheus")
    targets = [{"targets": [url.removeprefix("http://")], "labels": {"pod": f"node-{i}", "namespace": NAMESPACE}}
               for i, url in enumerate(cluster.urls)]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": JOB, "static_configs": targets}],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=open(work / "prometheus.log", "wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up_targets(url) == len(cluster.urls), 60, message="all targets up")
        # traffic for every panel: writes, reads, an error, applies
        for i in range(30):
            task = post_task(cluster.urls[i % 3], f"scraped {i}").json()
            requests.get(f"{cluster.urls[(i + 1) % 3]}/api/v1/tasks/{task['id']}", timeout=10)
        requests.get(f"{cluster.urls[0]}/api/v1/tasks/999999", timeout=10)
        time.sleep(6)  # several scrapes, so rates over the window have two samples
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def _up_targets(url: str) -> int:
    try:
        r = requests.get(f"{url}/api/v1/query", params={"query": "up == 1"}, timeout=5).json()
        return len(r["data"]["result"])
    except (requests.RequestException, ValueError, KeyError):
        return 0


def _query(url: str, expr: str) -> list:
    r = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert r["status"] == "success", f"{expr}: {r}"
    return r["data"]["result"]


def _dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in GRAFANA_VARIABLES.items():
                expr = expr.replace("${" + var[1:] + "}", value).replace(var, value)
            out.append((panel["title"], expr))
    return out


def test_every_dashboard_query_returns_series(prometheus):
    queries = _dashboard_queries()
    assert len(queries) >= 10
    empty = [(title, expr) for title, expr in queries if not _query(prometheus, expr)]
    assert not empty, f"panels with no data: {empty}"


def _rendered_alerts() -> list[dict]:
    helm = _helm()
    out = subprocess.run(
        [helm, "template", "taskraft", str(CHART), "--namespace", NAMESPACE,
         "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
         "--api-versions", "monitoring.coreos.com/v1/PrometheusRule"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    rules = []
    for doc in yaml.safe_load_all(out):
        if doc and doc.get("kind") == "PrometheusRule":
            for group in doc["spec"]["groups"]:
                rules.extend(r for r in group["rules"] if "alert" in r)
    return rules


def test_every_alert_expression_is_valid_and_its_metrics_exist(prometheus):
    alerts = _rendered_alerts()
    assert len(alerts) >= 5
    missing = []
    for alert in alerts:
        expr = alert["expr"]
        _query(prometheus, expr)  # evaluates without error (firing or not)
        for metric in set(METRIC_RE.findall(expr)) - PROMQL_FUNCTIONS:
            selector = expr[expr.index(metric + "{"):].split("}", 1)[0] + "}"
            if not _query(prometheus, selector):
                missing.append((alert["alert"], selector))
    assert not missing, f"alert selectors with no series: {missing}"


def test_the_healthy_cluster_fires_no_leader_or_quorum_alert(prometheus):
    alerts = {a["alert"]: a for a in _rendered_alerts()}
    for name, alert in alerts.items():
        if "leader" in name.lower() and "change" not in name.lower() or "quorum" in name.lower():
            assert _query(prometheus, alert["expr"]) == [], name
