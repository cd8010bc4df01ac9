"""`taskraft-faults`: run the fault-injection suite.

    taskraft-faults run --profile ci                      # <= 5 minutes, every fault kind at least once
    taskraft-faults run --profile long --duration 1800    # as long as asked
    taskraft-faults run --profile ci --seed 4242          # replay: same seed, same fault schedule
    taskraft-faults schedule --profile ci --seed 4242     # print the seeded schedule without running it

Exit status: 0 when every checker passed, 1 on any violation, 2 when the suite cannot run here.
"""

from __future__ import annotations

import itertools
import sys

import click

from .nemesis import schedule
from .runner import PROFILES, Runner, SuiteUnavailable, Terminated


@click.group(help="Jepsen-style fault injection against a 3-node cluster on separate network namespaces.")
def main() -> None:
    pass


@main.command(help="Run a profile: workload + nemesis, then the checkers. Writes a JSON report.")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default="ci", show_default=True)
@click.option("--duration", type=float, default=None, help="Seconds of faults (default: the profile's).")
@click.option("--seed", type=int, default=None, help="Seed of the fault schedule and the clients (default: random).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None, help="JSON report file.")
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="History file (JSONL; default: next to the report).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the temporary cluster data dir goes (default: the system temp dir).",
)
@click.option("--keep-logs", is_flag=True, help="Copy the node and MariaDB logs next to the report even on success.")
def run(profile, duration, seed, report_path, history_path, work_dir, keep_logs) -> None:
    runner = Runner(
        profile,
        duration=duration,
        seed=seed,
        report=report_path,
        history=history_path,
        work_dir=work_dir,
        keep_logs=keep_logs,
    )
    try:
        report = runner.run()
    except SuiteUnavailable as exc:
        click.echo(f"cannot run the fault suite here: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt as exc:
        click.echo(f"interrupted; everything was cleaned up. replay with --seed {runner.seed}", err=True)
        sys.exit(143 if isinstance(exc, Terminated) else 130)
    sys.exit(0 if report["ok"] else 1)


@main.command("schedule", help="Print the first N faults of a profile's seeded schedule.")
@click.option("--profile", type=click.Choice(sorted(PROFILES)), default="ci", show_default=True)
@click.option("--seed", type=int, required=True)
@click.option("-n", "count", type=int, default=20, show_default=True)
def show_schedule(profile, seed, count) -> None:
    for plan in itertools.islice(schedule(profile, seed), count):
        click.echo(
            f"#{plan.seq:<3d} {plan.kind:16s} hold {plan.hold:5.2f}s  gap {plan.gap:4.2f}s  "
            f"pick {plan.pick:.3f}/{plan.pick2:.3f}"
        )


if __name__ == "__main__":  # pragma: no cover
    main()
