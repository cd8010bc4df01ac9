"""The fault suite's report: the JSON document a run writes, and its human-readable summary."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from .checkers.result import percentile
from .history import History
from .nemesis import KINDS, Nemesis

if TYPE_CHECKING:
    from .runner import Runner

LIVENESS_BOUND = 30.0  # seconds from a heal to the first acknowledged write


def build_report(run: Runner, history: History, nemesis: Nemesis, results: dict, finals: dict, quiesced: dict) -> dict:
    """The run's JSON report: what ran, what the checkers found, recovery times, the final state's shape."""
    ops = history.ops()
    by_type: dict[str, Counter] = defaultdict(Counter)
    for op in ops:
        f = op.f if op.process != "liveness" else "probe"
        by_type[f][op.outcome] += 1
    errors: dict[str, Counter] = defaultdict(Counter)
    for op in ops:
        if op.outcome != "ok":
            errors[f"{op.f} {op.outcome}"][op.error or "-"] += 1
    faults_by_kind = Counter(r.kind for r in nemesis.records)
    probe_recovery = [r.recovery for r in nemesis.records if r.recovery is not None]
    live = results.get("liveness")
    first_write = live.stats.get("recovery", []) if live else []
    violations = {name: len(r.violations) for name, r in results.items()}
    lin_stats = results["linearizability"].stats if "linearizability" in results else {}
    report = {
        "ok": all(r.ok for r in results.values()),
        "profile": run.profile.name,
        "seed": run.seed,
        "duration_requested": run.profile.duration,
        "timings": {k: round(v, 3) for k, v in run.timings.items()},
        "report_path": str(run.report_path.resolve()),
        "history": str(run.history_path.resolve()),
        "replay": run.replay,
        "ops": {
            "total": len(ops),
            "by_type": {f: dict(c) for f, c in sorted(by_type.items())},
            "errors": {k: dict(c) for k, c in sorted(errors.items())},
        },
        "faults": {
            "total": len(nemesis.records),
            "by_kind": dict(sorted(faults_by_kind.items())),
            "kinds_missing": sorted(set(KINDS) - set(faults_by_kind)),
            "records": [r.to_dict() for r in nemesis.records],
        },
        "recovery": {
            "first_write_after_heal": _percentiles(first_write),
            "probe_write_after_heal": _percentiles(probe_recovery),
            "bound": LIVENESS_BOUND,
        },
        "violations": violations,
        "violations_total": sum(violations.values()),
        "checkers": {name: r.to_dict() for name, r in results.items()},
        "quiesce": quiesced,
        "final": {
            "tasks": {n: len(t) for n, t in finals["tasks"].items()},
            "raft_log_rows": {n: len(r) for n, r in finals["raft_log"].items()},
            "applied_index": finals["applied_index"],
            "checksums": finals["checksums"],
        },
        "anomalies": run.anomalies,
        "linearizability_unknown": lin_stats.get("unknown"),
    }
    return report


def _percentiles(values: list[float]) -> dict:
    return {
        "count": len(values),
        "p50": _round(percentile(values, 50)),
        "p90": _round(percentile(values, 90)),
        "p99": _round(percentile(values, 99)),
        "max": _round(max(values, default=None)),
    }


def _round(v):
    return None if v is None else round(v, 3)


def summary(report: dict) -> str:
    lines = [
        "",
        f"== taskraft fault suite: profile {report['profile']}, seed {report['seed']} "
        f"({report['timings'].get('total', 0):.0f}s in all, {report['timings'].get('faults', 0):.0f}s of faults) ==",
        "ops by type and outcome:",
    ]
    for f, outcomes in report["ops"]["by_type"].items():
        lines.append(f"  {f:8s} " + "  ".join(f"{o}={n}" for o, n in sorted(outcomes.items())))
    lines.append(f"faults: {report['faults']['total']}")
    for kind, n in report["faults"]["by_kind"].items():
        lines.append(f"  {kind:16s} {n}")
    if report["faults"]["kinds_missing"]:
        lines.append(f"  kinds not injected: {', '.join(report['faults']['kinds_missing'])}")
    rec = report["recovery"]["first_write_after_heal"]
    lines.append(
        f"recovery (heal -> first acknowledged write), {rec['count']} heals: "
        f"p50 {rec['p50']}s  p90 {rec['p90']}s  p99 {rec['p99']}s  max {rec['max']}s"
    )
    lines.append("checkers:")
    for name, r in report["checkers"].items():
        verdict = "ok" if r["ok"] else f"{len(r['violations'])} VIOLATIONS"
        stats = ", ".join(f"{k}={v}" for k, v in r["stats"].items() if not isinstance(v, (list, dict)))
        lines.append(f"  {name:16s} {verdict}  [{stats}]")
        for v in r["violations"][:5]:
            lines.append(f"      - {v.get('explanation', v)}")
    if report["anomalies"]:
        lines.append(f"anomalies ({len(report['anomalies'])}):")
        for a in report["anomalies"][:10]:
            lines.append(f"  - {a}")
    verdict = "PASS" if report["ok"] else f"FAIL: {report['violations_total']} violations"
    lines.append(f"{verdict}. report: {report.get('report_path')}  history: {report['history']}")
    lines.append(f"replay: {report['replay']}")
    return "\n".join(lines)
