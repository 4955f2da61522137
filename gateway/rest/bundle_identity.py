"""Who is who in a transaction: ids for new entries, conditional targets and references.

Everything here is decided against the database state *before* the transaction writes
anything, so the result does not depend on the order of the entries:

- POST entries get a server id now, so references to their ``fullUrl`` can be rewritten;
  a POST whose ``ifNoneExist`` matches one resource writes nothing and maps to it;
- conditional PUT/PATCH/DELETE (``Type?criteria``) are turned into instance
  interactions on the matched id (a PUT without a match becomes a create);
- conditional references (``Patient?identifier=s|v``) resolve to the one match, or to a
  POST entry of the same Bundle with the same ``ifNoneExist``; anything else fails the
  transaction (https://hl7.org/fhir/R4/http.html#trules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gateway.errors import BadRequest, NotFound, PreconditionFailed
from gateway.fhir.references import Slot, find_link_slots, is_conditional
from gateway.record.writer import RecordWriter, new_id
from gateway.rest.bundle_entries import Entry
from gateway.rest.request import FhirRequest, FhirResponse
from gateway.rest.respond import write_response
from gateway.rest.type_level import single_match


@dataclass(slots=True)
class Identities:
    assigned: dict[int, str] = field(default_factory=dict)  # entry index → new id (POST)
    existing: dict[int, FhirResponse] = field(default_factory=dict)  # matched ifNoneExist
    mapping: dict[str, str] = field(default_factory=dict)  # fullUrl / conditional → Type/id
    slots: dict[int, list[Slot]] = field(default_factory=dict)  # entry index → link places
    _placeholders: list[str] | None = None

    def rewrite(self, entry: Entry) -> Any:
        """The entry's resource with its links rewritten, in place (the body is ours)."""
        mapping = self.mapping
        for holder, key in self.slots.get(entry.index, ()):
            value = holder[key]
            hit = mapping.get(value)
            if hit is not None:
                holder[key] = hit
            elif key == "div":
                if self._placeholders is None:
                    self._placeholders = [k for k in mapping if k.startswith("urn:")]
                for placeholder in self._placeholders:  # narrative links: <a href>, <img src>
                    if placeholder in value:
                        value = value.replace(placeholder, mapping[placeholder])
                holder[key] = value
        return entry.resource


def _canonical_query(raw: str) -> str:
    return urlencode(sorted(parse_qsl(raw.lstrip("?"), keep_blank_values=True)))


def resolve_identities(
    entries: list[Entry], w: RecordWriter, *, base: str, prefer: str | None = None
) -> Identities:
    ids = Identities()
    targets: dict[str, int] = {}
    pending_creates: dict[tuple[str, str], str] = {}  # (type, canonical ifNoneExist) → id

    def claim(target: str, entry: Entry) -> None:
        if target in targets:
            raise BadRequest(
                f"{target} appears in entries {targets[target]} and {entry.index}; "
                "a transaction may touch each resource once",
                expression=entry.where,
                code="GW-1809",
            )
        targets[target] = entry.index
        entry.target = target
        if entry.full_url:
            ids.mapping[entry.full_url] = target

    for entry in entries:
        segs = entry.segments
        if entry.method == "POST" and len(segs) == 1:
            rtype = segs[0]
            condition = entry.headers.get("if-none-exist")
            if condition:
                match = single_match(
                    w,
                    rtype,
                    parse_qsl(condition.lstrip("?"), keep_blank_values=True),
                    what=f"{entry.where} ifNoneExist",
                )
                if match is not None:
                    # As a create answers: 200, shaped by the Bundle's Prefer: return.
                    probe = FhirRequest(
                        "POST",
                        [rtype],
                        base=base,
                        in_bundle=True,
                        headers={"prefer": prefer} if prefer else {},
                    )
                    ids.existing[entry.index] = write_response(probe, match, 200, location=False)
                    claim(f"{rtype}/{match.id}", entry)
                    continue
            rid = new_id()
            ids.assigned[entry.index] = rid
            if condition:
                pending_creates[(rtype, _canonical_query(condition))] = rid
            claim(f"{rtype}/{rid}", entry)
        elif entry.method in ("PUT", "PATCH", "DELETE") and len(segs) == 1 and entry.query:
            _resolve_conditional(entry, w, ids, claim)
        elif entry.method in ("PUT", "PATCH", "DELETE") and len(segs) == 2:
            claim(f"{segs[0]}/{segs[1]}", entry)

    full_urls = {e.full_url for e in entries if e.full_url}
    for entry in entries:
        if entry.resource is None:
            continue
        slots = find_link_slots(entry.resource, full_urls)
        ids.slots[entry.index] = slots
        for holder, key in slots:
            ref = holder[key]
            if key != "reference" or ref in ids.mapping or not is_conditional(ref):
                continue
            rtype, _, query = ref.partition("?")
            match = single_match(
                w,
                rtype,
                parse_qsl(query, keep_blank_values=True),
                what=f"Conditional reference '{ref}' in {entry.where}",
            )
            if match is not None:
                ids.mapping[ref] = f"{rtype}/{match.id}"
                continue
            pending = pending_creates.get((rtype, _canonical_query(query)))
            if pending is None:
                raise PreconditionFailed(
                    f"Conditional reference '{ref}' in {entry.where} matches no {rtype}",
                    expression=entry.where,
                    code="GW-3014",
                )
            ids.mapping[ref] = f"{rtype}/{pending}"
    return ids


def _resolve_conditional(entry: Entry, w: RecordWriter, ids: Identities, claim: Any) -> None:
    rtype = entry.segments[0]
    match = single_match(w, rtype, entry.query, what=f"{entry.where} conditional {entry.method}")
    if match is not None:
        rid = match.id
    elif entry.method == "PUT":
        body = entry.resource if isinstance(entry.resource, dict) else {}
        rid = str(body["id"]) if "id" in body else new_id()
    else:
        raise NotFound(
            f"Conditional {entry.method} in {entry.where}: no {rtype} matches the criteria"
        )
    if entry.method == "PUT" and isinstance(entry.resource, dict):
        if "id" in entry.resource and entry.resource["id"] != rid:
            raise BadRequest(
                f"The body's id differs from the matched {rtype}/{rid}",
                expression=f"{entry.where}.resource.id",
                code="GW-1205",
            )
        entry.resource = {**entry.resource, "id": rid}
    entry.path = f"{rtype}/{rid}"
    entry.query = []
    claim(f"{rtype}/{rid}", entry)
