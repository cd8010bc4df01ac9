"""The common result of every checker."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    checker: str
    ok: bool
    violations: list[dict] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def summary(self) -> str:
        verdict = "ok" if self.ok else f"FAIL ({len(self.violations)} violations)"
        stats = ", ".join(f"{k}={v}" for k, v in self.stats.items() if not isinstance(v, (list, dict)))
        first = f"; first: {self.violations[0].get('explanation', self.violations[0])}" if self.violations else ""
        return f"{self.checker}: {verdict} [{stats}]{first}"

    def to_dict(self) -> dict:
        return {"checker": self.checker, "ok": self.ok, "violations": self.violations, "stats": self.stats}


def make(checker: str, violations: list[dict], stats: dict) -> Result:
    return Result(checker, not violations, violations, stats)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]
