"""TLS on the HTTP port and CORS in the chart: the values render as documented and validate strictly.

The cert-manager Certificate is no built-in kind: like the ServiceMonitor and PrometheusRule it is checked
against a hand-written subset of its CRD schema (schemas/certificate-v1.json); everything else goes
through kubernetes-validate --strict.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import jsonschema
import pytest

from .conftest import CHART, NAMESPACE, RELEASE, VARIANT_IDS, VARIANTS, by_kind, one, render, run
from .test_chart import _assert_kubernetes_validate_strict

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "certificate-v1.json").read_text())
FULLNAME = f"{RELEASE}-taskraft"
CERT_MANAGER = CHART / "ci" / "tls-cert-manager-values.yaml"
EXISTING = ("--set", "tls.enabled=true", "--set", "tls.existingSecret=my-tls")
TLS_DIR = "/etc/taskraft/tls"


def _app(docs: list[dict]) -> dict:
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "taskraft")


def _env(docs: list[dict]) -> dict:
    return next(c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == f"{FULLNAME}-env")["data"]


def _template(helm: str, *args: str):
    cmd = [helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args]
    return run(cmd + ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"], check=False)


def test_tls_is_off_by_default(helm):
    docs = render(helm)
    assert not by_kind(docs, "Certificate")
    app = _app(docs)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert app[probe]["httpGet"]["scheme"] == "HTTP"
    assert not any(k.startswith(("TASKRAFT_TLS_", "TASKRAFT_CORS")) for k in _env(docs))
    assert TLS_DIR not in [m["mountPath"] for m in app["volumeMounts"]]
    endpoint = one(docs, "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["scheme"] == "http" and "tlsConfig" not in endpoint
    env = {e["name"]: e.get("value") for e in one(docs, "Pod")["spec"]["containers"][0]["env"]}
    assert env["TASKRAFT_URL"] == f"http://{FULLNAME}:8080" and "TASKRAFT_CA_FILE" not in env


@pytest.mark.parametrize("args", [("-f", str(CERT_MANAGER)), EXISTING], ids=["cert-manager", "existing-secret"])
def test_tls_mounts_the_secret_sets_the_env_and_switches_probes_monitor_and_test(helm, args):
    docs = render(helm, None, *args)
    secret = f"{FULLNAME}-tls" if "-f" in args else "my-tls"
    app = _app(docs)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert app[probe]["httpGet"]["scheme"] == "HTTPS", probe
    env = _env(docs)
    assert env["TASKRAFT_TLS_CERT_FILE"] == f"{TLS_DIR}/tls.crt"
    assert env["TASKRAFT_TLS_KEY_FILE"] == f"{TLS_DIR}/tls.key"
    assert env["TASKRAFT_TLS_CA_FILE"] == f"{TLS_DIR}/ca.crt"
    mount = next(m for m in app["volumeMounts"] if m["mountPath"] == TLS_DIR)
    assert mount["readOnly"] is True
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == secret
    assert {i["key"] for i in volume["secret"]["items"]} == {"tls.crt", "tls.key", "ca.crt"}

    endpoint = one(docs, "ServiceMonitor")["spec"]["endpoints"][0]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "ca": {"secret": {"name": secret, "key": "ca.crt"}},
        "serverName": f"{FULLNAME}.{NAMESPACE}.svc",
    }

    test_pod = one(docs, "Pod")["spec"]
    crud = test_pod["containers"][0]
    env = {e["name"]: e.get("value") for e in crud["env"]}
    assert env["TASKRAFT_URL"] == f"https://{FULLNAME}:8080"
    assert env["TASKRAFT_CA_FILE"].startswith(
        next(m["mountPath"] for m in crud["volumeMounts"] if m["name"] == "tls-ca")
    )
    ca_volume = next(v for v in test_pod["volumes"] if v["name"] == "tls-ca")
    assert ca_volume["secret"] == {
        "secretName": secret,
        "defaultMode": 0o444,
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }
    assert "context=context" in crud["command"][-1]  # the test's requests verify against that CA

    assert bool(by_kind(docs, "Certificate")) == ("-f" in args)


def test_the_certificate_names_every_address_the_members_are_reached_at(helm):
    docs = render(helm, CERT_MANAGER)
    cert = one(docs, "Certificate")
    jsonschema.validate(cert, SCHEMA)
    spec = cert["spec"]
    assert spec["secretName"] == f"{FULLNAME}-tls"
    assert spec["issuerRef"] == {"name": "taskraft-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert spec["ipAddresses"] == ["127.0.0.1"]
    names = spec["dnsNames"]
    assert len(names) == len(set(names))
    headless = f"{FULLNAME}-headless"

    def covered(host: str) -> bool:  # one wildcard label, as TLS clients match it
        return any(
            n == host or (n.startswith("*.") and fnmatch.fnmatch(host, n) and host.count(".") == n.count("."))
            for n in names
        )

    # the API URL each member registers and the others call: https://<pod>.<headless>.<ns>.svc.<domain>:<port>
    for i in range(3):
        assert covered(f"{FULLNAME}-{i}.{headless}.{NAMESPACE}.svc.cluster.local")
    for host in (FULLNAME, f"{FULLNAME}.{NAMESPACE}.svc", f"{FULLNAME}.{NAMESPACE}.svc.cluster.local", "localhost"):
        assert covered(host), host
    assert covered(f"{FULLNAME}-leader.{NAMESPACE}.svc") and covered("taskraft.example.com")
    assert not covered(f"other-0.other-headless.{NAMESPACE}.svc.cluster.local")
    # the name the ServiceMonitor and helm test expect is on the certificate
    sm = one(docs, "ServiceMonitor")["spec"]["endpoints"][0]["tlsConfig"]["serverName"]
    assert covered(sm)


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_certificates_match_the_crd_schema(helm, values):
    for doc in by_kind(render(helm, values), "Certificate"):
        jsonschema.validate(doc, SCHEMA)


def test_certificate_schema_rejects_mistakes(helm):
    good = one(render(helm, CERT_MANAGER), "Certificate")
    for path, value in (
        (("spec", "dnsName"), ["x"]),  # misspelt
        (("spec", "privateKey", "algorithm"), "DSA"),
        (("spec", "usages"), ["server-auth"]),
        (("spec", "duration"), "90 days"),
        (("spec", "issuerRef", "nam"), "x"),
    ):
        bad = json.loads(json.dumps(good))
        node = bad
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


@pytest.mark.parametrize("args", [("-f", str(CERT_MANAGER)), EXISTING], ids=["cert-manager", "existing-secret"])
def test_tls_renders_pass_kubernetes_validate_strict(helm, tmp_path, args):
    _assert_kubernetes_validate_strict(render(helm, None, *args), tmp_path)


def test_cors_origins_become_the_setting(helm):
    docs = render(helm, None, "--set", "cors.allowedOrigins={https://a.example,http://127.0.0.1:9000}")
    assert _env(docs)["TASKRAFT_CORS_ORIGINS"] == "https://a.example,http://127.0.0.1:9000"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--set", "tls.enabled=true"), "tls.enabled needs a certificate"),
        (
            (*EXISTING, "--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.name=x"),
            "mutually exclusive",
        ),
        (("--set", "tls.certManager.enabled=true", "--set", "tls.certManager.issuerRef.name=x"), "only for tls"),
        (("--set", "tls.enabled=true", "--set", "tls.certManager.enabled=true"), "issuerRef.name"),
        ((*EXISTING, "--set", "metrics.serviceMonitor.namespace=monitoring"), "leave metrics.serviceMonitor.namespace"),
        (("--set", "cors.allowedOrigins={https://a.example/path}"), "allowedOrigins"),
        (("--set", "tls.certManager.issuerRef.kind=Issuers"), "kind"),
        (("--set", "tls.enabld=true"), "enabld"),
    ],
)
def test_tls_and_cors_values_are_checked(helm, args, message):
    proc = _template(helm, *args)
    assert proc.returncode != 0, "the render should have failed"
    assert message in proc.stderr, proc.stderr
