"""The first, taskraft-only benchmark (writes, reads, SIGKILL failover), kept as an entry point.

It now runs the same scenarios through bench.suite and the shared load generator:
    python -m bench.cluster_bench [--quick] [--json FILE]
is `bench/run --only taskraft --scenarios writes,reads,failover`. Use bench/run for the whole comparison.
"""

from __future__ import annotations

import sys

from .suite import main as suite_main


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a.startswith("--only") for a in argv):
        argv += ["--only", "taskraft"]
    if not any(a.startswith("--scenarios") for a in argv):
        argv += ["--scenarios", "writes,reads,failover"]
    suite_main(argv)


if __name__ == "__main__":
    main()
