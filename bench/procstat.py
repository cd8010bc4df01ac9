"""CPU seconds and resident memory of process groups, from /proc."""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    # the command name may contain spaces; everything after the last ')' is space-separated
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (fields 14 and 15 of /proc/<pid>/stat)."""
    f = _stat_fields(pid)
    if f is None:
        return 0.0
    return (int(f[11]) + int(f[12])) / CLK_TCK


def pgid_of(pid: int) -> int | None:
    f = _stat_fields(pid)
    return int(f[2]) if f else None


def group_pids(pgid: int) -> list[int]:
    """Every live process whose process group is `pgid` (a gunicorn master and its workers)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        f = _stat_fields(int(name))
        if f and int(f[2]) == pgid:
            out.append(int(name))
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


class CpuMeter:
    """CPU seconds used by named groups of processes between start() and stop().

    `groups` maps a name to a callable returning the current pids of that group. Processes that die in
    between are counted up to their last sample (a SIGKILLed process's last moments are lost)."""

    def __init__(self, groups: dict):
        self.groups = groups
        self.last: dict[str, dict[int, float]] = {}
        self.first: dict[str, dict[int, float]] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in fn()} for name, fn in self.groups.items()}

    def start(self) -> CpuMeter:
        self.first = self._sample()
        self.last = {k: dict(v) for k, v in self.first.items()}
        return self

    def tick(self) -> None:
        """Sample again (call during long runs so processes that die keep their last value)."""
        for name, values in self._sample().items():
            for pid, v in values.items():
                if v:
                    self.last.setdefault(name, {})[pid] = v

    def stop(self) -> dict[str, float]:
        self.tick()
        out = {}
        for name in self.groups:
            first, last = self.first.get(name, {}), self.last.get(name, {})
            out[name] = round(sum(v - first.get(pid, 0.0) for pid, v in last.items()), 2)
        return out


SYSTEM_GROUPS = ("nodes", "databases")  # the system under test; "loadgen" and "client" are not part of it


def cpu_ms_per_op(cpu: dict, acked: int | None) -> float | None:
    """CPU milliseconds of the system under test (its nodes and databases, not the load generator) per
    acknowledged operation, over the same period; None when nothing was acknowledged or nothing measured.

    `cpu` is a CpuMeter.stop() result (group name -> CPU seconds); `acked` the acknowledged operations."""
    if not acked or not cpu or not any(g in cpu for g in SYSTEM_GROUPS):
        return None
    if acked < 0:
        raise ValueError(f"acknowledged operations must not be negative, got {acked}")
    return sum(cpu.get(g) or 0.0 for g in SYSTEM_GROUPS) * 1000.0 / acked
