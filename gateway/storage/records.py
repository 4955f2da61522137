"""Plain records that cross the storage boundary (no SQLAlchemy types leak out)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.search.rows import IndexRows


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a resource as stored; ``content`` is None for a deletion."""

    resource_type: str
    id: str
    version: int
    last_updated: int  # microseconds since the Unix epoch, UTC
    deleted: bool
    content: bytes | None
    patient_id: str | None = None
    pk: int | None = None  # ``resource.pk`` (current rows only)
    seq: int | None = None  # ``resource_history.seq`` (history rows only)
    method: str | None = None
    author: str | None = None  # who created the resource (idNat_PS, INS or client id)
    author_structure: str | None = None
    created: int | None = None  # when version 1 was written (microseconds)


@dataclass(slots=True)
class WriteOp:
    """One new version to write: history row, current row and its index rows.

    ``existing_pk`` is the ``resource.pk`` of the row to replace, or None to insert one.
    """

    resource_type: str
    id: str
    version: int
    last_updated: int
    method: str  # POST, PUT, PATCH or DELETE
    content: bytes | None
    patient_id: str | None
    index: IndexRows | None
    existing_pk: int | None = None
    author: str | None = None
    author_structure: str | None = None
    created: int | None = None

    @property
    def deleted(self) -> bool:
        return self.content is None
