"""The archive's manifest: what it holds, with a SHA-256 per file, so a restore verifies before it writes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from backup.errors import RestoreRefused

FORMAT = "tongdai-backup/1"
MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size: int


@dataclass
class Manifest:
    created_at: str
    node: str
    database_kind: str  # sqlite | postgresql
    schema_revision: str
    row_counts: dict[str, int]
    files: dict[str, FileEntry] = field(default_factory=dict)  # archive path → checksum
    format: str = FORMAT

    def add(self, arcname: str, path: Path) -> None:
        self.files[arcname] = FileEntry(sha256_of(path), path.stat().st_size)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        try:
            raw: dict[str, Any] = json.loads(text)
            if raw.get("format") != FORMAT:
                raise RestoreRefused(f"not a {FORMAT} archive (format {raw.get('format')!r})")
            files = {k: FileEntry(**v) for k, v in raw.pop("files").items()}
            return cls(files=files, **raw)
        except (ValueError, TypeError, KeyError) as err:
            raise RestoreRefused(f"unreadable manifest: {err}") from err

    def verify(self, root: Path) -> None:
        """Every listed file present with its checksum, and no unlisted file: else refuse, naming it."""
        found = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {MANIFEST_NAME}
        if extra := sorted(found - self.files.keys()):
            raise RestoreRefused(f"archive holds files its manifest does not list: {', '.join(extra[:5])}")
        for name, entry in sorted(self.files.items()):
            path = root / name
            if not path.is_file():
                raise RestoreRefused(f"archive is missing {name}")
            if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
                raise RestoreRefused(f"checksum mismatch for {name}: the archive is damaged")
