"""The change feed for one caller: committed versions they may see, in commit order.

Reads :func:`gateway.storage.changes.read_changes` through the caller's repository and
keeps only what ``reader.visible_version`` allows (the DMP rules; a deletion is judged on
the version it ended; an old version shows only if the resource as it is now may be seen
too, so masking a document later hides its earlier changes), so a hidden resource never
appears, nor any sign of it: the position simply moves past it. Delivery is at-least-once
(a client that loses a response reads the same page again with the same cursor) and in
order for each resource.

Each call scans at most ``scan_limit`` versions, so a caller who sees little of a busy
record gets short answers that still move forward (``caught_up`` is then False).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.errors import BadRequest
from gateway.fhir.cursor import digest
from gateway.record.repository import Repository
from gateway.rest.paging import caller_digest
from gateway.storage.changes import FeedPosition, current_position, read_changes
from gateway.storage.records import StoredVersion


@dataclass(frozen=True, slots=True)
class FeedPage:
    versions: list[StoredVersion]
    position: FeedPosition
    caught_up: bool


def read_feed(
    repo: Repository,
    position: FeedPosition,
    *,
    types: Sequence[str] | None,
    limit: int,
    scan_limit: int | None = None,
) -> FeedPage:
    budget = scan_limit if scan_limit is not None else max(limit * 20, 2000)
    batch_size = min(max(limit * 2, 100), budget)
    picked: list[StoredVersion] = []
    seen: dict[tuple[str, str], bool] = {}
    with repo.reading() as reader:
        while True:
            batch = read_changes(reader.tx, position, types=types, limit=batch_size)
            # One query for the current version numbers of the page, instead of one
            # current-row read per change (most changes are the current version).
            unseen = {(v.resource_type, v.id) for v in batch.versions} - seen.keys()
            numbers = reader.tx.current_numbers(unseen)
            for version in batch.versions:
                budget -= 1
                if reader.visible_version(version, seen=seen, current_numbers=numbers):
                    picked.append(version)
                    if len(picked) >= limit:
                        return FeedPage(picked, batch.after(version), False)
                if budget <= 0:
                    return FeedPage(picked, batch.after(version), False)
            position = batch.position
            if batch.caught_up:
                return FeedPage(picked, position, True)


def start_now(repo: Repository) -> FeedPosition:
    with repo.reading() as reader:
        return current_position(reader.tx)


def _query_key(types: Sequence[str] | None) -> str:
    return digest(["sync-changes", ",".join(sorted(types or ()))])


def encode_cursor(repo: Repository, position: FeedPosition, types: Sequence[str] | None) -> str:
    """An opaque cursor, signed, bound to the caller and to the ``_type`` filter."""
    return repo.services.cursors.encode(
        position.to_json(), query=_query_key(types), caller=caller_digest(repo.ctx)
    )


def decode_cursor(repo: Repository, token: str, types: Sequence[str] | None) -> FeedPosition:
    raw = repo.services.cursors.decode(
        token, query=_query_key(types), caller=caller_digest(repo.ctx), name="cursor"
    )
    try:
        return FeedPosition.from_json(raw)
    except ValueError:
        raise BadRequest("Invalid cursor", expression="cursor", code="GW-1601") from None
