"""Outcomes of repository writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import Issue
from gateway.storage.records import StoredVersion

WriteStatus = Literal["created", "updated", "unchanged", "deleted", "exists"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did. ``version`` is the version now current (the deletion for deletes).

    ``exists``: a conditional create found its match and wrote nothing.
    ``unchanged``: an update identical to the current version, or a repeated delete.
    """

    status: WriteStatus
    version: StoredVersion
    issues: tuple[Issue, ...] = field(default=())

    @property
    def http_status(self) -> int:
        return {"created": 201, "updated": 200, "unchanged": 200, "deleted": 200, "exists": 200}[
            self.status
        ]
