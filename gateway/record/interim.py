"""Interim index extraction and search, until the full search module is wired in.

Serves ``_id`` and ``identifier`` only, which is what conditional operations and
conditional references need; any other parameter is refused with a 400 naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select

from gateway.errors import UnsupportedParameter
from gateway.fhir.references import parse_reference
from gateway.search.rows import IndexRows, TokenRow
from gateway.storage import schema as s
from gateway.storage.records import StoredVersion
from gateway.storage.store import CURRENT_COLUMNS, StoreTx, current_version


class InterimIndexer:
    def rows(self, resource: dict[str, Any]) -> IndexRows:
        out = IndexRows()
        ids = resource.get("identifier")
        for ident in ids if isinstance(ids, list) else [ids] if isinstance(ids, dict) else []:
            if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                out.tokens.append(TokenRow("identifier", ident.get("system"), ident["value"]))
        return out

    def patient_of(self, resource: dict[str, Any]) -> str | None:
        if resource.get("resourceType") == "Patient":
            return str(resource.get("id"))
        for key in ("subject", "patient"):
            ref = resource.get(key)
            if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
                parsed = parse_reference(ref["reference"])
                if parsed and parsed.resource_type == "Patient":
                    return parsed.id
        return None


class InterimSearch:
    def candidates(
        self,
        tx: StoreTx,
        resource_type: str | None,
        params: Sequence[tuple[str, str]],
        *,
        after: int | None,
        limit: int,
    ) -> list[StoredVersion]:
        r = s.resource
        conds: list[ColumnElement[bool]] = [r.c.deleted.is_(False)]
        if resource_type is not None:
            conds.append(r.c.resource_type == resource_type)
        if after is not None:
            conds.append(r.c.pk > after)
        for name, value in params:
            if name == "_id":
                conds.append(r.c.id.in_(value.split(",")))
            elif name == "identifier":
                t = s.idx_token
                system, bar, code = value.rpartition("|")
                match = [t.c.resource_pk == r.c.pk, t.c.param == "identifier", t.c.code == code]
                if bar and system:
                    match.append(t.c.system == system)
                elif bar:
                    match.append(t.c.system.is_(None))
                conds.append(exists().where(and_(*match)))
            else:
                raise UnsupportedParameter(
                    f"Unknown or unsupported search parameter '{name}'", expression=name
                )
        stmt = select(*CURRENT_COLUMNS).where(and_(*conds)).order_by(r.c.pk).limit(limit)
        return [current_version(row) for row in tx.conn.execute(stmt).all()]
