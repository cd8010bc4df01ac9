"""API tokens in the chart: the admin token in the Secret (generated once and kept, or auth.existingSecret),
given to the members as a mounted file, auth.enabled and auth.metricsToken, the helm test and NOTES.txt.

`lookup` answers nothing offline, so keeping the generated token across upgrades is checked on a copy of the
chart whose lookup is replaced by a fixed "live" Secret: two renders against it must agree.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from .conftest import CHART, NAMESPACE, RELEASE, VARIANT_IDS, VARIANTS, by_kind, one, render, run
from .test_chart import _assert_kubernetes_validate_strict

FULLNAME = f"{RELEASE}-taskraft"
SECRET = f"{FULLNAME}-auth"
TOKEN_FILE = "/etc/taskraft/secret/admin-token"
EXISTING = ("--set", "auth.existingSecret=mine", "--set", "auth.existingSecretKey=api.token")
METRICS_TOKEN = ("--set", "auth.metricsToken=true")
AUTH_OFF = ("--set", "auth.enabled=false")
SM_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "servicemonitor-v1.json").read_text())
LOOKUP = '{{- $live := (lookup "v1" "Secret" .Release.Namespace $name) | default dict }}'


def _pod(docs: list[dict]) -> dict:
    return one(docs, "StatefulSet")["spec"]["template"]["spec"]


def _app(docs: list[dict]) -> dict:
    return next(c for c in _pod(docs)["containers"] if c["name"] == "taskraft")


def _env(docs: list[dict]) -> dict:
    return next(c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == f"{FULLNAME}-env")["data"]


def _token_volume(docs: list[dict]) -> tuple[dict, dict, dict]:
    """The taskraft container's mount that holds TASKRAFT_ADMIN_TOKEN_FILE, its volume, and the volume's item."""
    directory, _, name = TOKEN_FILE.rpartition("/")
    mount = next(m for m in _app(docs)["volumeMounts"] if m["mountPath"] == directory)
    volume = next(v for v in _pod(docs)["volumes"] if v["name"] == mount["name"])
    item = next(i for i in volume["secret"]["items"] if i["path"] == name)
    return mount, volume, item


def _test_pod(docs: list[dict]) -> tuple[dict, dict]:
    """The helm test pod's spec and its container's env (name -> value)."""
    spec = one(docs, "Pod")["spec"]
    return spec, {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}


def _endpoint(docs: list[dict]) -> dict:
    (endpoint,) = one(docs, "ServiceMonitor")["spec"]["endpoints"]
    return endpoint


# --- the Secret and the members ------------------------------------------------------------------------


def test_the_generated_secret_holds_a_long_random_admin_token(helm):
    settings = pytest.importorskip("taskraft.auth.settings", reason="the taskraft package is not installed")
    tokens = [base64.b64decode(one(render(helm, None, "--set", f"podLabels.n=r{i}"), "Secret")["data"]["admin-token"])
              for i in range(2)]  # fmt: skip
    for token in tokens:
        assert len(token) >= 48 and token.isalnum(), token
        assert len(token) >= settings.MIN_ADMIN_TOKEN
    assert tokens[0] != tokens[1], "two fresh installs share an admin token"


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_the_token_is_a_mounted_file_and_never_an_env_value(helm, values):
    docs = render(helm, values)
    env = _env(docs)
    assert env["TASKRAFT_AUTH"] == "on"
    assert env["TASKRAFT_ADMIN_TOKEN_FILE"] == TOKEN_FILE
    mount, volume, item = _token_volume(docs)
    assert mount["readOnly"] is True
    assert volume["secret"]["secretName"] == SECRET
    assert volume["secret"]["defaultMode"] in (0o400, 0o440)
    assert item == {"key": "admin-token", "path": "admin-token"}
    app = _app(docs)
    names = {e["name"] for e in app.get("env", [])} | set(env)
    assert "TASKRAFT_ADMIN_TOKEN" not in names
    # the token itself (and its base64) appears in the Secret and nowhere else
    encoded = one(docs, "Secret")["data"]["admin-token"]
    token = base64.b64decode(encoded).decode()
    others = yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"])
    assert token not in others and encoded not in others


def test_the_members_accept_the_rendered_settings(helm, tmp_path):
    """The env the chart renders, with the Secret's files where the pods mount them, is what the node reads."""
    settings = pytest.importorskip("taskraft.auth.settings", reason="the taskraft package is not installed")
    from taskraft.auth.tokens import hash_token

    def read(docs: list[dict]):
        env = dict(_env(docs))
        data = one(docs, "Secret")["data"]
        for key in ("TASKRAFT_ADMIN_TOKEN_FILE", "TASKRAFT_RAFT_SECRET_FILE"):
            if key in env:
                path = tmp_path / env[key].lstrip("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(base64.b64decode(data[path.name]))
                env[key] = str(path)
        return settings.AuthSettings.from_env(env), base64.b64decode(data["admin-token"]).decode()

    on, token = read(render(helm))
    assert on.enabled and not on.metrics_need_token
    assert on.admin_token_hash == hash_token(token)
    assert read(render(helm, None, *METRICS_TOKEN))[0].metrics_need_token
    off, _ = read(render(helm, None, *AUTH_OFF))
    assert not off.enabled


def _chart_with_live_secret(tmp_path: Path, data: dict[str, str]) -> Path:
    """A copy of the chart whose lookup of its Secret answers a Secret with these (plain) values."""
    chart = tmp_path / "taskraft"
    shutil.copytree(CHART, chart)
    secret = chart / "templates" / "secret.yaml"
    text = secret.read_text()
    assert LOOKUP in text, "templates/secret.yaml no longer looks its Secret up as this test expects"
    pairs = " ".join(f'"{k}" "{base64.b64encode(v.encode()).decode()}"' for k, v in data.items())
    secret.write_text(text.replace(LOOKUP, f'{{{{- $live := dict "data" (dict {pairs}) }}}}'))
    return chart


def _render_chart(helm: str, chart: Path, *args: str) -> list[dict]:
    proc = run([helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE, *args])
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def test_an_upgrade_keeps_the_admin_token_and_the_checksums(helm, tmp_path):
    live = {"mysql-root-password": "root-pw", "mysql-password": "app-pw", "raft-secret": "r" * 48}
    live["admin-token"], live["backup-token"] = "a" * 48, "b" * 48
    chart = _chart_with_live_secret(tmp_path, live)
    first, second = _render_chart(helm, chart), _render_chart(helm, chart, "--set", "replicaCount=5")
    for docs in (first, second):
        data = one(docs, "Secret")["data"]
        assert {k: base64.b64decode(v).decode() for k, v in data.items()} == live
    annotations = [one(d, "StatefulSet")["spec"]["template"]["metadata"]["annotations"] for d in (first, second)]
    assert annotations[0] == annotations[1] and "checksum/secret" in annotations[0]


def test_an_upgrade_from_a_secret_without_a_token_adds_one_and_keeps_the_rest(helm, tmp_path):
    live = {"mysql-root-password": "root-pw", "mysql-password": "app-pw", "raft-secret": "r" * 48}
    data = one(_render_chart(helm, _chart_with_live_secret(tmp_path, live)), "Secret")["data"]
    decoded = {k: base64.b64decode(v).decode() for k, v in data.items()}
    assert {k: decoded[k] for k in live} == live
    assert len(decoded["admin-token"]) >= 48


def test_an_existing_secret_and_key(helm, tmp_path):
    docs = render(helm, None, *EXISTING, *METRICS_TOKEN)
    assert not by_kind(docs, "Secret")
    assert "checksum/secret" not in one(docs, "StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    _, volume, item = _token_volume(docs)
    assert volume["secret"]["secretName"] == "mine"
    assert item == {"key": "api.token", "path": "admin-token"}
    assert _env(docs)["TASKRAFT_ADMIN_TOKEN_FILE"] == TOKEN_FILE
    spec, _ = _test_pod(docs)
    token = next(v for v in spec["volumes"] if v["name"] == "admin-token")["secret"]
    assert (token["secretName"], token["items"]) == ("mine", [{"key": "api.token", "path": "admin-token"}])
    assert _endpoint(docs)["authorization"]["credentials"] == {"name": "mine", "key": "api.token"}
    _assert_kubernetes_validate_strict(docs, tmp_path)


def test_auth_off(helm, tmp_path):
    docs = render(helm, None, *AUTH_OFF)
    env = _env(docs)
    assert env["TASKRAFT_AUTH"] == "off"
    assert "TASKRAFT_ADMIN_TOKEN_FILE" not in env and "TASKRAFT_METRICS_AUTH" not in env
    volume = next(v for v in _pod(docs)["volumes"] if v["name"] == "secret")
    assert "admin-token" not in {i["key"] for i in volume["secret"]["items"]}
    # generated all the same: turning authentication on later finds it
    assert "admin-token" in one(docs, "Secret")["data"]
    spec, test_env = _test_pod(docs)
    assert "TASKRAFT_TOKEN_FILE" not in test_env
    assert "admin-token" not in {v["name"] for v in spec["volumes"]}
    assert "authorization" not in _endpoint(docs)
    _assert_kubernetes_validate_strict(docs, tmp_path)


def test_values_from_a_chart_without_auth_settings_keep_authentication_on(helm):
    """`helm upgrade --reuse-values` from a chart version without these keys keeps that version's defaults, which
    lack them (null deletes a key here): only an explicit auth.enabled=false turns authentication off."""
    unset = ("auth.enabled", "auth.existingSecretKey", "auth.metricsToken")
    for extra in ((), ("--set", "auth.existingSecret=mine")):
        docs = render(helm, None, *[w for key in unset for w in ("--set", f"{key}=null")], *extra)
        env = _env(docs)
        assert (env["TASKRAFT_AUTH"], env["TASKRAFT_METRICS_AUTH"]) == ("on", "open")
        assert _token_volume(docs)[2] == {"key": "admin-token", "path": "admin-token"}
        assert "TASKRAFT_TOKEN_FILE" in _test_pod(docs)[1]


# --- /metrics ------------------------------------------------------------------------------------------


def test_metrics_are_open_by_default(helm):
    docs = render(helm)
    assert _env(docs)["TASKRAFT_METRICS_AUTH"] == "open"
    assert "authorization" not in _endpoint(docs)


def test_metrics_token_sets_the_env_and_the_service_monitor_sends_the_token(helm, tmp_path):
    docs = render(helm, None, *METRICS_TOKEN)
    assert _env(docs)["TASKRAFT_METRICS_AUTH"] == "token"
    endpoint = _endpoint(docs)
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": SECRET, "key": "admin-token"}}
    jsonschema.validate(one(docs, "ServiceMonitor"), SM_SCHEMA)
    # with TLS as well: both the CA and the token
    tls = render(helm, None, *METRICS_TOKEN, "--set", "tls.enabled=true", "--set", "tls.existingSecret=my-tls")
    endpoint = _endpoint(tls)
    assert endpoint["scheme"] == "https" and endpoint["tlsConfig"]["ca"]["secret"]["name"] == "my-tls"
    assert endpoint["authorization"]["credentials"] == {"name": SECRET, "key": "admin-token"}
    jsonschema.validate(one(tls, "ServiceMonitor"), SM_SCHEMA)
    _assert_kubernetes_validate_strict(tls, tmp_path)


def test_the_all_options_file_puts_metrics_behind_the_token(helm):
    docs = render(helm, CHART / "ci" / "all-options-values.yaml")
    assert _env(docs)["TASKRAFT_METRICS_AUTH"] == "token"
    assert _endpoint(docs)["authorization"]["credentials"] == {"name": SECRET, "key": "admin-token"}


def test_the_crd_schema_checks_the_authorization(helm):
    good = one(render(helm, None, *METRICS_TOKEN), "ServiceMonitor")
    for mistake in ({"type": "Bearer", "credential": {"name": SECRET, "key": "admin-token"}},
                    {"type": "Bearer", "credentials": {"name": SECRET}}):  # fmt: skip
        bad = json.loads(json.dumps(good))
        bad["spec"]["endpoints"][0]["authorization"] = mistake
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SM_SCHEMA)


@pytest.mark.parametrize(
    "args, message",
    [
        ((*METRICS_TOKEN, *AUTH_OFF), "auth.metricsToken puts /metrics behind a token, which needs auth.enabled"),
        ((*METRICS_TOKEN, "--set", "metrics.serviceMonitor.namespace=monitoring"), "reads the token from the Secret"),
        (("--set", "auth.existingSecretKey="), "existingSecretKey"),
        (("--set", "auth.metricsToken=yes"), "metricsToken"),
        (("--set", "auth.enabled=maybe"), "enabled"),
    ],
)
def test_auth_values_are_checked(helm, args, message):
    cmd = [helm, "template", RELEASE, str(CHART), "--namespace", NAMESPACE, *args]
    proc = run(cmd + ["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"], check=False)
    assert proc.returncode != 0, "the render should have failed"
    assert message in proc.stderr, proc.stderr


# --- helm test -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [(), ("--set", "tls.enabled=true", "--set", "tls.existingSecret=my-tls")], ids=["http", "https"]
)
def test_helm_test_pod_mounts_the_token_and_checks_401_and_roles(helm, tmp_path, args):
    docs = render(helm, None, *args)
    spec, env = _test_pod(docs)
    crud = spec["containers"][0]
    mount = next(m for m in crud["volumeMounts"] if m["name"] == "admin-token")
    assert mount["readOnly"] is True and env["TASKRAFT_TOKEN_FILE"].startswith(mount["mountPath"] + "/")
    volume = next(v for v in spec["volumes"] if v["name"] == "admin-token")["secret"]
    assert volume == {
        "secretName": SECRET,
        "defaultMode": 0o440,
        "items": [{"key": "admin-token", "path": env["TASKRAFT_TOKEN_FILE"].rpartition("/")[2]}],
    }
    assert not any(e.get("valueFrom", {}).get("secretKeyRef") for e in crud["env"]), "the token as an env value"
    script = crud["command"][-1]
    compile(script, "helm-test", "exec")
    for step in ("token=None", '"trk_"', '"/users"', '"/tokens"', "== 401", "== 403", "/disable"):
        assert step in script, step
    if args:  # over HTTPS the CA still verifies every call
        assert env["TASKRAFT_URL"].startswith("https://") and env["TASKRAFT_CA_FILE"]
        assert "context=context" in script
    _assert_kubernetes_validate_strict(docs, tmp_path)


# --- NOTES.txt -----------------------------------------------------------------------------------------


def _notes(helm: str, tmp_path: Path, *args: str) -> str:
    """NOTES.txt as an install prints it (helm template leaves it out: a copy of the chart renders it as data)."""
    chart = tmp_path / "notes" / "taskraft"
    shutil.copytree(CHART, chart)
    wrapper = 'notes: |\n{{ include (print $.Template.BasePath "/NOTES.txt") . | indent 2 }}\n'
    (chart / "templates" / "zz-notes.yaml").write_text(wrapper)
    cmd = [helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE, "--show-only", "templates/zz-notes.yaml"]
    return yaml.safe_load(run([*cmd, *args]).stdout)["notes"]


def test_notes_say_how_to_read_the_token_and_use_it(helm, tmp_path):
    notes = _notes(helm, tmp_path)
    read = f"kubectl -n {NAMESPACE} get secret {SECRET} -o jsonpath='{{.data.admin-token}}' | base64 -d"
    assert f"TOKEN=$({read})" in notes
    curls = [line for line in notes.splitlines() if line.strip().startswith("curl") and "/api/v1" in line]
    assert curls and all('-H "Authorization: Bearer $TOKEN"' in line for line in curls), curls

    mine = _notes(helm, tmp_path / "existing", *EXISTING)
    assert "get secret mine -o jsonpath='{.data.api\\.token}' | base64 -d" in mine

    off = _notes(helm, tmp_path / "off", *AUTH_OFF)
    assert "Bearer" not in off and "auth.enabled=false" in off
