"""The chart README's parameter table is generated from values.yaml (scripts/chart_readme.py) and current;
every value is documented and described in values.schema.json."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import CHART, REPO, run

SCRIPT = REPO / "scripts" / "chart_readme.py"


def _load():
    spec = importlib.util.spec_from_file_location("chart_readme", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("chart_readme", module)
    spec.loader.exec_module(module)
    return module


chart_readme = _load()


def _check(chart: Path = CHART, *extra: str):
    return run([sys.executable, str(SCRIPT), "--check", "--chart", str(chart), *extra], check=False)


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    for name in ("values.yaml", "values.schema.json", "README.md"):
        shutil.copy(CHART / name, tmp_path / name)
    return tmp_path


def test_readme_table_is_current_and_every_value_documented():
    proc = _check()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_key_has_a_row_or_a_documented_parent():
    values = (CHART / "values.yaml").read_text()
    table = chart_readme.table(values)
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines()[2:]}
    for key in chart_readme.parse(values):
        path = ".".join(key.path)
        assert any(path == row or path.startswith(row + ".") for row in rows) or key.is_map, path
    assert "image.digest" in rows and "service.nodePort" in rows and "networkPolicy.extraEgress" in rows
    readme = (CHART / "README.md").read_text()
    assert table in readme


def test_check_fails_on_a_stale_table_and_the_generator_fixes_it(chart_copy):
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text().replace("# -- Override the chart name", "# -- Replace the chart name"))
    proc = _check(chart_copy)
    assert proc.returncode == 1 and "the parameter table is stale" in proc.stderr
    readme_before = (chart_copy / "README.md").read_text()

    proc = run([sys.executable, str(SCRIPT), "--chart", str(chart_copy)], check=False)
    assert proc.returncode == 0, proc.stderr
    readme = (chart_copy / "README.md").read_text()
    assert '| `nameOverride` | string | `""` | Replace the chart name part of resource names. |' in readme
    # only the table changed
    head = readme_before.partition(chart_readme.START)[0]
    tail = readme_before.partition(chart_readme.END)[2]
    assert readme.startswith(head) and readme.endswith(tail)
    assert _check(chart_copy).returncode == 0


def test_check_fails_on_an_undocumented_value(chart_copy):
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text().replace("image:\n", 'image:\n  mirror: ""\n', 1))
    proc = _check(chart_copy)
    assert proc.returncode == 1
    assert "values.yaml: image.mirror has no '# --' comment" in proc.stderr
    assert "values.schema.json: image.mirror is not described" in proc.stderr


def test_check_fails_on_a_value_missing_from_the_schema(chart_copy):
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text() + "\n# -- Documented, but the schema does not know it.\nnewValue: 1\n")
    proc = _check(chart_copy)
    assert proc.returncode == 1
    assert "values.schema.json: newValue is not described" in proc.stderr
    assert "has no '# --' comment" not in proc.stderr


def test_parse_lists_maps_and_type_hints():
    text = textwrap.dedent(
        """\
        # A section comment, not a description.
        top:
          # -- A list of maps: its items are the value, not keys.
          hosts:
            - host: a
              paths:
                - path: /
          # -- (int) Continued
          # on a second line.
          port: null
        # -- A documented map: one row.
        resources:
          requests:
            cpu: 100m
        plain: 1
        """
    )
    keys = {".".join(k.path): k for k in chart_readme.parse(text)}
    assert set(keys) == {"top", "top.hosts", "top.port", "resources", "resources.requests", "resources.requests.cpu",
                         "plain"}  # fmt: skip
    assert keys["top"].description is None and keys["top"].is_map
    assert keys["top.port"].description == "Continued on a second line." and keys["top.port"].type_hint == "int"
    assert chart_readme.undocumented(text) == ["plain"]
    table = chart_readme.table(text).splitlines()
    assert table[2:] == [
        '| `top.hosts` | list | `[{"host":"a","paths":[{"path":"/"}]}]` | A list of maps: its items are the value, '
        "not keys. |",
        "| `top.port` | int | `null` | Continued on a second line. |",
        '| `resources` | object | `{"requests":{"cpu":"100m"}}` | A documented map: one row. |',
    ]
    schema = {"type": "object", "properties": {"top": {"type": "object", "properties": {"hosts": {}, "port": {}}},
                                               "resources": {"type": "object"}}}  # fmt: skip
    assert chart_readme.missing_from_schema(text, schema) == ["plain"]
