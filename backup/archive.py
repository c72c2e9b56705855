"""``tongdai backup`` and ``tongdai restore``: one archive per node, verified before anything is written.

The archive is a gzip tar: ``manifest.json`` (checksums, row counts, schema revision), the database
dump, the recordings directory, the CDR spool (CDRs not yet in the database), ``config.yaml`` and the
``TONGDAI__*`` secrets from the environment. Everything is first copied into a staging folder beside the
archive, so a recording still being written is captured as one consistent snapshot. The archive holds
secrets and personal data: it is written mode 0600.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from backup import database
from backup.errors import BackupError, RestoreRefused
from backup.manifest import MANIFEST_NAME, Manifest, sha256_of

ENV_PREFIX = "TONGDAI__"
DB_DIR, RECORDINGS, SPOOL, CONFIG, SECRETS = (
    "database",
    "recordings",
    "spool",
    "config/config.yaml",
    "secrets.env",
)


@dataclass(frozen=True)
class NodeFiles:
    """Where a node keeps what a backup holds (the source of a backup, the target of a restore)."""

    node: str
    database_url: str
    recordings_dir: Path
    spool_dir: Path
    config_path: Path | None = None
    data_dir: Path = Path("var")  # restored secrets land here
    environment: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    recordings: int
    spooled_cdrs: int
    secrets_file: Path | None


def _dump_name(kind: str) -> str:
    return f"{DB_DIR}/tongdai.{'sqlite' if kind == 'sqlite' else 'pgdump'}"


def _copy_tree(src: Path, dst: Path) -> int:
    if not src.is_dir():
        return 0
    n = 0
    for path in sorted(src.rglob("*")):
        if path.is_file() and not path.is_symlink():
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            n += 1
    return n


def _stage_files(src: NodeFiles, stage: Path) -> None:
    _copy_tree(src.recordings_dir, stage / RECORDINGS)
    _copy_tree(src.spool_dir, stage / SPOOL)
    if src.config_path is not None:
        if not src.config_path.is_file():
            raise BackupError(f"no config file at {src.config_path}")
        (stage / CONFIG).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src.config_path, stage / CONFIG)
    secrets = {k: v for k, v in src.environment.items() if k.startswith(ENV_PREFIX)}
    if secrets:
        lines = "".join(f"{k}={v}\n" for k, v in sorted(secrets.items()))
        (stage / SECRETS).write_text(lines, encoding="utf-8")


def _pack(stage: Path, manifest: Manifest, out: Path) -> None:
    for path in sorted(stage.rglob("*")):
        if path.is_file():
            manifest.add(path.relative_to(stage).as_posix(), path)
    (stage / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    tmp = out.with_name(out.name + ".partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1) as tar:
        tar.add(stage / MANIFEST_NAME, arcname=MANIFEST_NAME)
        for name in sorted(manifest.files):
            tar.add(stage / name, arcname=name)
    tmp.replace(out)


async def create_backup(src: NodeFiles, out: Path) -> Manifest:
    """Write the node's archive to ``out`` while the node runs; return its manifest."""
    kind = database.kind_of(src.database_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tongdai-backup-", dir=out.parent) as tmp:
        stage = Path(tmp)
        (stage / DB_DIR).mkdir()
        await database.dump(src.database_url, stage / _dump_name(kind))
        manifest = Manifest(
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            node=src.node,
            database_kind=kind,
            schema_revision=await database.schema_revision(src.database_url),
            row_counts=await database.row_counts(src.database_url),
        )
        await asyncio.to_thread(_stage_files, src, stage)
        await asyncio.to_thread(_pack, stage, manifest, out)
    return manifest


def _unpack(archive: Path, stage: Path) -> Manifest:
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            # The "data" filter refuses absolute paths, "..", links out of the folder and device files.
            tar.extractall(stage, filter="data")
    except (OSError, tarfile.TarError) as err:
        raise RestoreRefused(f"cannot read {archive}: {err}") from err
    manifest_path = stage / MANIFEST_NAME
    if not manifest_path.is_file():
        raise RestoreRefused(f"{archive} has no {MANIFEST_NAME}: not a tongdai backup")
    manifest = Manifest.from_json(manifest_path.read_text(encoding="utf-8"))
    manifest.verify(stage)
    return manifest


def _check_targets(stage: Path, dst: NodeFiles, *, force: bool) -> None:
    """Refuse before writing anything when a restore would overwrite a different file."""
    if force:
        return
    for path in sorted((stage / RECORDINGS).rglob("*")):
        target = dst.recordings_dir / path.relative_to(stage / RECORDINGS)
        if path.is_file() and target.exists() and sha256_of(target) != sha256_of(path):
            raise RestoreRefused(f"{target} exists with other content: restore with --force to replace it")
    config = stage / CONFIG
    existing = dst.config_path
    if existing is None or not config.is_file() or not existing.exists():
        return
    if sha256_of(existing) != sha256_of(config):
        raise RestoreRefused(f"{existing} exists with other content: use --force to replace it")


def _place_files(stage: Path, dst: NodeFiles) -> tuple[int, int, Path | None]:
    recordings = _copy_tree(stage / RECORDINGS, dst.recordings_dir)
    spooled = 0
    spool_src = stage / SPOOL
    if spool_src.is_dir():
        dst.spool_dir.mkdir(parents=True, exist_ok=True)
        for path in sorted(spool_src.rglob("*")):
            if path.is_file():
                # Appended, never replaced: CDRs are stored idempotently, so a line seen twice is harmless.
                data = path.read_bytes()
                spooled += data.count(b"\n")
                with (dst.spool_dir / path.relative_to(spool_src)).open("ab") as f:
                    f.write(data)
    if dst.config_path is not None and (stage / CONFIG).is_file():
        dst.config_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(stage / CONFIG, dst.config_path)
    secrets_file: Path | None = None
    if (stage / SECRETS).is_file():
        dst.data_dir.mkdir(parents=True, exist_ok=True)
        secrets_file = dst.data_dir / "restored-secrets.env"
        fd = os.open(secrets_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write((stage / SECRETS).read_bytes())
    return recordings, spooled, secrets_file


async def restore_backup(archive: Path, dst: NodeFiles, *, force: bool = False) -> RestoreReport:
    """Rebuild a node from ``archive``. The whole archive is verified first; the node must be stopped."""
    parent = dst.data_dir if dst.data_dir.is_dir() else Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix=".tongdai-restore-", dir=parent) as tmp:
        stage = Path(tmp)
        manifest = await asyncio.to_thread(_unpack, archive, stage)
        kind = database.kind_of(dst.database_url)
        if kind != manifest.database_kind:
            raise RestoreRefused(
                f"the archive holds a {manifest.database_kind} database; the target is {kind}: "
                "restore into the same kind, then migrate the data with the database's own tools"
            )
        await asyncio.to_thread(_check_targets, stage, dst, force=force)
        await database.load(dst.database_url, stage / _dump_name(kind), force=force)
        counts = await database.row_counts(dst.database_url)
        if counts != manifest.row_counts:
            raise BackupError(
                f"restored row counts differ from the archive's: {counts} != {manifest.row_counts}"
            )
        recordings, spooled, secrets = await asyncio.to_thread(_place_files, stage, dst)
    return RestoreReport(manifest, recordings, spooled, secrets)
