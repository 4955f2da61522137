"""Business identifiers already stored: one query per unit instead of one search per entry.

Every entry the parsers produce for a business object is a conditional create on one
identifier (``ifNoneExist: identifier=system|value``). A transaction resolves each of
them with a search before writing; for a CSV chunk that is hundreds of searches. This
stage looks them all up at once, in the unit's transaction, under the same locks the
transaction would take (:func:`gateway.rest.type_level.single_match` locks
``Type?criteria`` so that two writers of the same business object serialise):

- an identifier carried by exactly one live resource of the entry's type: the entry is
  dropped and its fullUrl rebound to that resource (what the conditional create would
  have matched);
- an identifier carried by none: the entry becomes a plain create (the lock, held to
  the commit, keeps any other conditional writer of that identifier out), and a second
  entry of the same unit with the same identifier is folded into the first (two
  records stating the same fact); unless a conditional reference of the unit names it,
  in which case it stays conditional so that the transaction can resolve the reference;
- anything else (several matches, an escaped value, other criteria): left to the
  transaction.

The lookup is the gateway's, over the sender's own identifier systems and the national
directories (idNat_PS, idNat_Struct): like the identity stage, it decides *which*
resource a payload names, and the rules then judge what the sender writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from sqlalchemy import Row, Select, and_, bindparam, select

from gateway.ingest.result import Entry
from gateway.storage import schema as s
from gateway.storage.store import StoreTx

SKIPPED_TYPES = frozenset({"Patient", "Medication"})  # identity stage; catalogue writer
_ESCAPES = ("\\", "|", ",", "$")
_BATCH = 400


def _identifier(entry: Entry) -> tuple[str, str] | None:
    """(system, value) of a single-identifier conditional create, else None."""
    if not entry.if_none_exist or entry.resource_type in SKIPPED_TYPES:
        return None
    pairs = parse_qsl(entry.if_none_exist, keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "identifier":
        return None
    system, bar, value = pairs[0][1].partition("|")
    if not bar or not system or not value or any(c in value for c in _ESCAPES):
        return None
    return system, value


def _lock_key(resource_type: str, system: str, value: str) -> str:
    """The key :func:`gateway.rest.type_level.single_match` locks for
    ``Type?identifier=system|value``: urlencode() of the one pair, without its generic
    machinery."""
    return f"{resource_type}?identifier={quote_plus(f'{system}|{value}')}"


def known_entries(
    tx: StoreTx, entries: Iterable[Entry], stored: Callable[[str], str]
) -> tuple[dict[str, str], set[str]]:
    """(fullUrl → ``Type/id`` stored, or → the fullUrl of an earlier entry stating the
    same fact; fullUrls of entries whose identifier is stored nowhere).

    ``stored`` gives an identifier value as the index holds it
    (:meth:`gateway.search.BlindIndex.identifier`)."""
    entries = list(entries)
    conditional = _conditional_references(entries)
    wanted: dict[tuple[str, str, str], list[Entry]] = {}
    for entry in entries:
        found = _identifier(entry)
        if found is not None:
            wanted.setdefault((entry.resource_type, *found), []).append(entry)
    if not wanted:
        return {}, set()
    if tx.dialect == "postgresql":  # SQLite's BEGIN IMMEDIATE already serialises writers
        tx.lock(*(_lock_key(*key) for key in wanted))
    found_ids = _lookup(tx, list(wanted), stored)
    mapping: dict[str, str] = {}
    absent: set[str] = set()
    for key, same in wanted.items():
        matches = found_ids.get(key, [])
        if len(matches) == 1:
            for entry in same:
                mapping[entry.full_url] = f"{key[0]}/{matches[0]}"
        elif not matches:
            first = same[0]
            if f"{first.resource_type}?{first.if_none_exist}" not in conditional:
                absent.add(first.full_url)
            for entry in same[1:]:
                if entry.full_url != first.full_url:
                    mapping[entry.full_url] = first.full_url
    return mapping, absent


def _conditional_references(entries: list[Entry]) -> set[str]:
    """Every ``reference`` string with a ``?`` in the entries' resources (what
    :func:`~gateway.fhir.references.iter_reference_holders` finds, filtered), in one
    walk without a generator: it runs over every resource of every unit."""
    out: set[str] = set()
    for entry in entries:
        _collect(entry.resource, out)
    return out


def _collect(node: dict[str, Any], out: set[str]) -> None:
    for key, value in node.items():
        if isinstance(value, dict):
            _collect(value, out)
        elif isinstance(value, list):
            _collect_list(value, out)
        elif key == "reference" and isinstance(value, str) and "?" in value:
            out.add(value)


def _collect_list(items: list[Any], out: set[str]) -> None:
    for item in items:
        if isinstance(item, dict):
            _collect(item, out)
        elif isinstance(item, list):
            _collect_list(item, out)


_r, _t = s.resource, s.idx_token


def identifier_lookup(*columns: Any) -> Select[Any]:
    """``columns`` of the live resources whose ``identifier`` token is among the bound
    ``types`` and ``codes``, with the token's ``system`` and ``token_code``: the query
    :func:`identifier_rows` runs. Build it once per module: constructing the ``in_``
    clauses per unit cost more than running the query."""
    return (
        select(*columns, _t.c.system, _t.c.code.label("token_code"))
        .join(_r, _r.c.pk == _t.c.resource_pk)
        .where(
            and_(
                _t.c.param == "identifier",
                _t.c.resource_type.in_(bindparam("types", expanding=True)),
                _t.c.code.in_(bindparam("codes", expanding=True)),
                _r.c.deleted.is_(False),
            )
        )
    )


_LOOKUP = identifier_lookup(_r.c.resource_type, _r.c.id)


def identifier_rows(
    tx: StoreTx,
    query: Select[Any],
    keys: list[tuple[str, str, str]],
    stored: Callable[[str], str],
) -> Iterator[tuple[tuple[str, str, str], Row[Any]]]:
    """Each row ``query`` finds for the (type, system, value) identifiers ``keys``, with
    the key it answers, a few hundred keys per statement. ``query`` selects
    ``resource_type``, ``system`` and the indexed value as ``token_code``, binding
    ``types`` and ``codes``; ``stored`` gives a value as the index holds it."""
    types = sorted({k[0] for k in keys})
    for start in range(0, len(keys), _BATCH):
        batch = keys[start : start + _BATCH]
        # (type, system, value as the index holds it) → the key as the entries state it
        wanted = {(k[0], k[1], stored(k[2])): k for k in batch}
        codes = sorted({k[2] for k in wanted})
        for row in tx.conn.execute(query, {"types": types, "codes": codes}).all():
            key = wanted.get((row.resource_type, row.system, row.token_code))
            if key is not None:
                yield key, row


def _lookup(
    tx: StoreTx, keys: list[tuple[str, str, str]], stored: Callable[[str], str]
) -> dict[tuple[str, str, str], list[str]]:
    out: dict[tuple[str, str, str], list[str]] = {}
    for key, row in identifier_rows(tx, _LOOKUP, keys, stored):
        if row.id not in out.setdefault(key, []):
            out[key].append(row.id)
    return out
