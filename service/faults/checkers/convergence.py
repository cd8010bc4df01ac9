"""Convergence: after heal and quiesce every node has the same checksum per table and the same applied index."""

from __future__ import annotations

from collections import defaultdict

from .result import Result, make

NAME = "convergence"


def _groups(values: dict) -> dict:
    """value -> sorted nodes holding it."""
    out = defaultdict(list)
    for node, value in sorted(values.items()):
        out[value].append(node)
    return {str(k): v for k, v in out.items()}


def check(checksums: dict, applied_index: dict | None = None) -> Result:
    """checksums: {node: {table: checksum}}; applied_index: {node: int}."""
    violations = []
    nodes = sorted(set(checksums) | set(applied_index or {}))
    tables = sorted({t for per_node in checksums.values() for t in per_node})
    for table in tables:
        missing = [n for n in sorted(checksums) if table not in checksums[n]]
        values = {n: checksums[n][table] for n in checksums if table in checksums[n]}
        if missing or len(set(values.values())) > 1:
            groups = _groups(values)
            violations.append(
                {
                    "kind": "table_differs",
                    "table": table,
                    "groups": groups,
                    "missing_on": missing,
                    "explanation": f"table {table} differs: {groups}" + (f", missing on {missing}" if missing else ""),
                }
            )
    indexes = applied_index or {}
    missing = [n for n in nodes if n not in indexes] if indexes else []
    if len(set(indexes.values())) > 1 or missing:
        groups = _groups(indexes)
        violations.append(
            {
                "kind": "applied_index_differs",
                "groups": groups,
                "missing_on": missing,
                "explanation": f"applied index differs: {groups}" + (f", missing on {missing}" if missing else ""),
            }
        )
    stats = {
        "nodes": len(nodes),
        "tables": len(tables),
        "applied_index": sorted(set(indexes.values())),
        "violations": len(violations),
    }
    return make(NAME, violations, stats)
