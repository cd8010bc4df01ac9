"""Render one or more `bench/run --json` files as Markdown tables (for docs/performance.md).

    python -m bench.report RESULT.json [MORE.json ...]

Rows of later files replace rows of earlier ones with the same figure, system and clients; ratios and targets
are recomputed over the merged rows, so only merge files measured close together on the same machine.
"""

from __future__ import annotations

import json
import sys

from .suite import CPU_PER_OP_NOTE, compute_ratios, targets


def merge(paths: list[str]) -> dict:
    results = [json.load(open(p)) for p in paths]
    rows: dict[tuple, dict] = {}
    for res in results:
        for r in res["rows"]:
            r = dict(r, run=res["started"], mode=res["mode"])
            rows[(r["figure"], r["system"], r["clients"])] = r
    merged = list(rows.values())
    compute_ratios(merged)
    return {"results": results, "rows": merged, "targets": targets(merged)}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def markdown(merged: dict) -> str:
    out = [
        "| figure | system | clients | value | p50 ms | p99 ms | errors | ratio | CPU s: nodes / db / loadgen "
        "| CPU ms/op | run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in merged["rows"]:
        v = r["value"]
        vs = "-" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.2f}")
        c = r.get("cpu_s") or {}
        cpu = " / ".join(fmt(c.get(k), ".1f") for k in ("nodes", "databases", "loadgen")) if c else "-"
        value = f"{vs} {r['unit']}" if v is not None else (r["note"] or "-")
        out.append(
            f"| {r['figure']} | {r['system']} | {fmt(r['clients'], 'd')} | {value} | {fmt(r['p50_ms'], '.1f')} "
            f"| {fmt(r['p99_ms'], '.1f')} | {fmt(r['errors'], 'd')} | {r['ratio'] or ''} | {cpu} "
            f"| {fmt(r.get('cpu_ms_per_op'), '.2f')} | {r['mode']} {r['run'][11:16]} |"
        )
    out += ["", CPU_PER_OP_NOTE + "."]
    out += ["", "| target (issue 5) | measured | met |", "|---|---|---|"]
    for t in merged["targets"]:
        out.append(f"| {t['target']} | {t['measured']} | {({True: 'yes', False: '**no**', None: 'n/a'})[t['met']]} |")
    out += ["", "Notes per row:", ""]
    for r in merged["rows"]:
        extra = "; ".join(x for x in (r["settings"], r["note"]) if x)
        if extra and r["value"] is not None:
            cl = "" if r["clients"] is None else f", {r['clients']} clients"
            out.append(f"- {r['figure']}, {r['system']}{cl}: {extra}")
    out.append("")
    for res in merged["results"]:
        m = res["machine"]
        out.append(
            f"- run {res['started']} ({res['mode']}, {res['wall_s']} s, code {m.get('code', '?')}): "
            "load average at start "
            f"{', '.join(f'{x:.1f}' for x in m['loadavg_start'])}, at end "
            f"{', '.join(f'{x:.1f}' for x in m['loadavg_end'])}; parameters `{json.dumps(res['params'])}`"
        )
        for name, s in res["systems"].items():
            out.append(f"  - {name}: `{json.dumps(s)}`")
    return "\n".join(out)


def main() -> None:
    print(markdown(merge(sys.argv[1:])))


if __name__ == "__main__":
    main()
