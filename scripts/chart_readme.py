"""The parameter table of the chart README, generated from the `# --` comments of values.yaml.

    python scripts/chart_readme.py            # rewrite the table in deploy/helm/taskraft/README.md
    python scripts/chart_readme.py --check    # fail if the table is stale or a value is not described

The comments follow helm-docs: a `# -- description` line (continued by the `#` lines under it) just above
a key documents that key; `# -- (int) description` names the type where the default cannot show it (a
null, or `int/string`). A documented map is one row, its keys included. Only the table, between the two markers, is
generated; the rest of the README is written by hand.

Both modes also check that every value is documented (on itself or on an enclosing map) and that every
key of values.yaml is described in values.schema.json, and exit 1 if not.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[1] / "deploy" / "helm" / "taskraft"
START = "<!-- parameters:start -->"
END = "<!-- parameters:end -->"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-/]+):(?:\s+(?P<rest>.*))?$")
TYPE_HINT = re.compile(r"^\((?P<type>[a-z/]+)\)\s*")


@dataclass
class Key:
    path: tuple[str, ...]
    line: int
    description: str | None  # None: no `# --` comment of its own
    type_hint: str | None
    is_map: bool  # a block whose keys are listed too (not a list, not a flow value)


def parse(text: str) -> list[Key]:
    """Every key of values.yaml in file order, with its own `# --` description if it has one."""
    lines = text.splitlines()
    keys: list[Key] = []
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing maps
    skip_deeper_than: int | None = None  # inside a block list: its lines are the value, not keys
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if skip_deeper_than is not None:
            if indent > skip_deeper_than or (indent == skip_deeper_than and stripped.startswith("-")):
                continue
            skip_deeper_than = None
        match = KEY.match(line)
        if not match:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = (*(k for _, k in stack), match["key"])
        description, type_hint = _comment_above(lines, i)
        rest = (match["rest"] or "").split(" #")[0].strip()
        following = next((ln for ln in lines[i + 1 :] if ln.strip() and not ln.strip().startswith("#")), "")
        deeper = len(following) - len(following.lstrip()) > indent
        is_list_block = not rest and following.strip().startswith("-")
        is_map = not rest and deeper and not is_list_block
        keys.append(Key(path, i + 1, description, type_hint, is_map))
        if is_list_block:
            skip_deeper_than = indent
        elif is_map:
            stack.append((indent, match["key"]))
    return keys


def _comment_above(lines: list[str], i: int) -> tuple[str | None, str | None]:
    """The `# --` comment block right above line i: its text joined, and an optional `(type)` hint."""
    block: list[str] = []
    j = i - 1
    while j >= 0 and lines[j].strip().startswith("#"):
        block.insert(0, lines[j].strip())
        j -= 1
    start = next((n for n in range(len(block) - 1, -1, -1) if block[n].startswith("# --")), None)
    if start is None:
        return None, None
    parts = [block[start][len("# --") :].strip()] + [b.lstrip("#").strip() for b in block[start + 1 :]]
    text = " ".join(p for p in parts if p)
    hint = TYPE_HINT.match(text)
    if hint:
        return text[hint.end() :], hint["type"]
    return text, None


def _value(values: dict, path: tuple[str, ...]):
    for part in path:
        values = values[part]
    return values


def _type(value, hint: str | None) -> str:
    if hint:
        return hint
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(values_text: str) -> str:
    """The Markdown table: one row per documented key."""
    values = yaml.safe_load(values_text)
    rows = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for key in parse(values_text):
        if key.description is None:
            continue
        value = _value(values, key.path)
        default = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        cells = [f"`{'.'.join(key.path)}`", _type(value, key.type_hint), f"`{_cell(default)}`", _cell(key.description)]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)


def undocumented(values_text: str) -> list[str]:
    """Values with no `# --` comment on themselves or on an enclosing map."""
    keys = parse(values_text)
    documented = {k.path for k in keys if k.description is not None}
    return [
        ".".join(k.path)
        for k in keys
        if not k.is_map and not any(k.path[:n] in documented for n in range(1, len(k.path) + 1))
    ]


def missing_from_schema(values_text: str, schema: dict) -> list[str]:
    """Keys of values.yaml that values.schema.json does not describe. A schema map with no `properties`
    (free-form, like `resources`) describes every key under it."""
    missing = []
    for key in parse(values_text):
        node = schema
        for part in key.path:
            props = node.get("properties")
            if props is None:
                break  # free-form from here down
            if part in props:
                node = props[part]
            elif isinstance(node.get("additionalProperties"), dict):
                node = node["additionalProperties"]
            else:
                missing.append(".".join(key.path))
                break
    return missing


def render_readme(readme: str, values_text: str) -> str:
    if START not in readme or END not in readme:
        raise SystemExit(f"the README has no {START} ... {END} markers")
    head, _, tail = readme.partition(START)
    _, _, tail = tail.partition(END)
    note = "<!-- Generated from values.yaml by scripts/chart_readme.py: edit the comments there, not here. -->"
    return f"{head}{START}\n{note}\n\n{table(values_text)}\n\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the table is stale")
    parser.add_argument("--chart", type=Path, default=CHART, help="chart directory (default: %(default)s)")
    args = parser.parse_args(argv)

    values_text = (args.chart / "values.yaml").read_text()
    schema = json.loads((args.chart / "values.schema.json").read_text())
    readme_path = args.chart / "README.md"
    readme = readme_path.read_text()
    wanted = render_readme(readme, values_text)

    problems = [
        f"values.yaml: {k} has no '# --' comment (on itself or an enclosing map)" for k in undocumented(values_text)
    ]
    problems += [f"values.schema.json: {k} is not described" for k in missing_from_schema(values_text, schema)]
    if wanted != readme:
        if args.check:
            problems.append(f"{readme_path}: the parameter table is stale; run python scripts/chart_readme.py")
        else:
            readme_path.write_text(wanted)
            print(f"{readme_path}: parameter table updated")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
