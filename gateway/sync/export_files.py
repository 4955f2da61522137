"""Where export files live: a small Protocol and the filesystem implementation.

Files are written whole (to a temporary name, then renamed), so a reader never sees a
partial file. The default root is ``<data dir>/exports`` (``GATEWAY_SYNC__EXPORT_DIR``);
with several hosts it must be a volume they share, or another implementation of
:class:`ExportStorage` (object storage) must be plugged in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ExportStorage(Protocol):
    def write(self, job_id: str, name: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        """Store one file; its size and SHA-256 (hex)."""
        ...

    def path(self, job_id: str, name: str) -> Path | None:
        """The stored file, for streaming it out; None if absent."""
        ...

    def remove(self, job_id: str) -> None:
        """Delete every file of a job (no error if there are none)."""
        ...


class FileExportStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, job_id: str) -> Path:
        if not _SAFE.match(job_id):
            raise ValueError("unsafe job id")
        return self.root / job_id

    def write(self, job_id: str, name: str, chunks: Iterable[bytes]) -> tuple[int, str]:
        if not _SAFE.match(name):
            raise ValueError("unsafe file name")
        folder = self._dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.urandom(4).hex()}.tmp"
        digest, size = hashlib.sha256(), 0
        with tmp.open("wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        tmp.replace(folder / name)
        return size, digest.hexdigest()

    def path(self, job_id: str, name: str) -> Path | None:
        if not _SAFE.match(name):
            return None
        try:
            found = self._dir(job_id) / name
        except ValueError:
            return None
        return found if found.is_file() else None

    def remove(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(self._dir(job_id))
