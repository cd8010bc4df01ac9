"""`taskraft backup` (take one from a cluster), `taskraft backup verify` and `taskraft restore` (offline).

A backup is written atomically: a temporary file beside the target (0600: it holds the token
hashes), fsynced, checked whole (format, checksum), then renamed into place. A cut stream or a bad
file leaves nothing under the target's name. With --out-dir, files are named
taskraft-<UTC time>-i<index>.backup and --keep N deletes the oldest beyond the newest N.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path

import click

from .api.backup import file_name
from .cli_client import CommandFailed, _client, connection_options
from .client import ClientError
from .durable import replacing
from .state import backup_format as fmt

_BACKUP_NAME = re.compile(r"^taskraft-(\d{8}T\d{6})Z-i(\d+)\.backup$")
_CHUNK = 1 << 16


def _describe(info: fmt.BackupInfo) -> str:
    head = info.header
    return (
        f"index {info.applied_index} (term {info.applied_term}), cluster {head.get('cluster_id') or '-'}, "
        f"taken {head.get('created_at')} on {head.get('node_id')} ({head.get('consistency')}): "
        f"{info.tasks} tasks, {sum(info.rows.values())} rows, {info.size} bytes, schema {head.get('schema_version')}, "
        f"format {head.get('format_version')}, sha256 {info.sha256}"
    )


@click.group("backup", invoke_without_command=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the backup to this file.")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    help="Write it into this directory as taskraft-<UTC time>-i<index>.backup.",
)
@click.option("--keep", type=click.IntRange(1), help="With --out-dir: keep only the newest N backups there.")
@click.option(
    "--consistency",
    type=click.Choice(["linearizable", "local"]),
    default="linearizable",
    show_default=True,
    help="linearizable: every write acknowledged before it began is in it; local: the answering node's "
    "database as it is (works without a quorum).",
)
@click.option("--progress/--no-progress", default=None, help="A progress bar (default: when stderr is a terminal).")
@connection_options
@click.pass_context
def backup(ctx, out, out_dir, keep, consistency, progress) -> None:
    """Take a consistent backup from the cluster (admin or backup role): `taskraft backup --out FILE`.

    `taskraft backup verify FILE` checks a backup without any cluster."""
    if ctx.invoked_subcommand is not None:
        return
    if (out is None) == (out_dir is None):
        raise click.UsageError("give exactly one of --out FILE and --out-dir DIR")
    if keep is not None and out_dir is None:
        raise click.UsageError("--keep goes with --out-dir")
    client = _client()
    client.read_timeout = max(client.read_timeout, 60.0)  # a large table may take a while between chunks
    try:
        response = client.request("GET", "/api/v1/backup", params={"consistency": consistency}, stream=True)
    except ClientError as exc:
        raise CommandFailed(exc) from None
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        header = {
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "applied_index": response.headers.get("X-Taskraft-Backup-Index", "0"),
        }
        out = str(Path(out_dir) / file_name(header))
    info = _save(response, out, progress)
    click.echo(f"backup {out}: {_describe(info)}")
    if keep is not None:
        for old in prune(out_dir, keep):
            click.echo(f"removed {old} (keeping the newest {keep})")


def _save(response, out: str, progress: bool | None) -> fmt.BackupInfo:
    if progress is None:
        progress = sys.stderr.isatty()
    suffix = f".partial-{os.getpid()}"
    try:
        with replacing(out, suffix=suffix) as dst:
            _copy(response, dst, progress, os.path.basename(out))
            dst.flush()
            info = fmt.verify(out + suffix)  # checked whole before it takes the name
    except fmt.BackupError as exc:
        _remove(out + suffix)
        raise click.ClickException(f"the backup received is not valid ({exc}); nothing was written") from None
    except Exception as exc:
        _remove(out + suffix)
        if isinstance(exc, OSError):
            raise click.ClickException(f"cannot write {out}: {exc}") from None
        raise click.ClickException(f"the backup stream broke off ({type(exc).__name__}); nothing was written") from None
    finally:
        response.close()
    return info


def _copy(response, dst, progress: bool, label: str) -> None:
    if not progress:
        for chunk in response.iter_content(_CHUNK):
            dst.write(chunk)
        return
    from tqdm import tqdm

    with tqdm(desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr) as bar:
        for chunk in response.iter_content(_CHUNK):
            dst.write(chunk)
            bar.update(len(chunk))


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def prune(out_dir: str, keep: int) -> list[str]:
    """Delete the oldest taskraft-*.backup files in `out_dir` beyond the newest `keep`; their paths."""
    found = [(m.group(1), int(m.group(2)), name) for name in os.listdir(out_dir) if (m := _BACKUP_NAME.match(name))]
    names = [name for _time, _index, name in sorted(found)]  # oldest first: by time, then by index
    removed = []
    for name in names[: max(0, len(names) - keep)]:
        path = os.path.join(out_dir, name)
        _remove(path)
        removed.append(path)
    return removed


@backup.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
def backup_verify(file: str) -> None:
    """Check FILE's format, checksum and schema version, without any cluster."""
    try:
        info = fmt.verify(file)
    except fmt.BackupError as exc:
        raise click.ClickException(f"{file} is not a valid backup: {exc}") from None
    click.echo(f"{file}: valid; {_describe(info)}")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--data-dir", required=True, type=click.Path(file_okay=False), help="The new local cluster's directory.")
@click.option("--force", is_flag=True, help="Empty a non-empty DATA_DIR first (its data is lost).")
def restore(file: str, data_dir: str, force: bool) -> None:
    """Prepare a new local cluster in DATA_DIR from the backup FILE; `taskraft cluster up --data-dir DATA_DIR`
    then serves it, with a new cluster id. Nothing is written unless FILE is a valid backup."""
    from .localcluster.restore_dir import RestoreRefused, prepare

    try:
        info = prepare(file, data_dir, force=force)
    except RestoreRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"prepared {data_dir} from {file}: {_describe(info)}")
    click.echo(f"next: taskraft cluster up --data-dir {data_dir}")
