"""Writes through the caller-bound repository: validate, check, stamp, index, store.

Every write goes through the same steps, in this order:
1. structural validation → 400: the JSON form
   (:func:`gateway.fhir.structure.validate_json_form`), the references a stored
   resource can follow (:func:`gateway.fhir.references.check_reference_forms`), then
   one walk of the compiled StructureDefinitions (:meth:`ProfileValidator.check`),
   whose findings step 3 reuses;
2. the access policy (:class:`gateway.record.seams.AccessPolicy`) → 403;
3. profile validation → 422 on errors, warnings returned with the result;
4. ``meta.versionId`` / ``meta.lastUpdated`` stamped, index rows extracted;
5. the new version queued in this unit of work; queued versions are flushed to the
   database in bulk before any read and at commit, all in one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from gateway.errors import (
    BadRequest,
    Forbidden,
    Issue,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    Unprocessable,
    shown,
)
from gateway.fhir.json import dumps, loads_stored
from gateway.fhir.meta import stamp, without_server_meta
from gateway.fhir.references import check_reference_forms
from gateway.fhir.structure import is_valid_id, json_kind, validate_json_form
from gateway.policy import Action
from gateway.policy.labels import canonical_label, coding_for
from gateway.policy.resource_facts import patient_of
from gateway.record.facts_cache import FACT_TYPES
from gateway.record.reader import RecordReader
from gateway.record.results import WriteResult
from gateway.record.seams import WriteGrant
from gateway.storage.records import StoredVersion, WriteOp
from gateway.storage.store import StoreTx
from gateway.validation import Findings

IfNoneMatch = Literal["*"] | frozenset[int] | None
IfMatch = Literal["*"] | int | None  # "*": any current version (RFC 9110 §13.1.1)
"""A write's If-None-Match: ``*`` (any current version) or the version ids it names."""


def new_id() -> str:
    return str(uuid.uuid4())


class RecordWriter(RecordReader):
    """Reads and writes inside one open write transaction (a unit of work)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: list[WriteOp] = []
        self.committed: list[StoredVersion] = []
        self._last_now = 0

    @property
    def tx(self) -> StoreTx:
        self.flush()
        return self._tx

    def _facts_unwritten(self) -> bool:
        if any(op.resource_type in FACT_TYPES for op in self._pending):
            return False
        return super()._facts_unwritten()

    def flush(self) -> None:
        """Write the queued versions now (in bulk), so that reads see them."""
        if not self._pending:
            return
        ops = self.take_pending()
        self.flushed(ops, self._tx.write(ops))

    @property
    def pending(self) -> list[StoredVersion]:
        """The queued versions, not written yet (without their ``pk`` and ``seq``)."""
        return [_as_version(op) for op in self._pending]

    def take_pending(self) -> list[WriteOp]:
        """Hand the queue over to whoever writes it (several writers' queues can go to
        the database in one :meth:`StoreTx.write`); :meth:`flushed` must follow."""
        ops, self._pending = self._pending, []
        return ops

    def flushed(self, ops: list[WriteOp], seqs: list[int]) -> None:
        """``ops`` (from :meth:`take_pending`) were written with these sequence numbers."""
        for op, seq in zip(ops, seqs, strict=True):
            self.committed.append(
                StoredVersion(
                    resource_type=op.resource_type,
                    id=op.id,
                    version=op.version,
                    last_updated=op.last_updated,
                    deleted=op.deleted,
                    content=op.content,
                    patient_id=op.patient_id,
                    pk=op.existing_pk,
                    seq=seq,
                    method=op.method,
                    author=op.author,
                    author_structure=op.author_structure,
                    created=op.created,
                )
            )

    # -- the interactions --------------------------------------------------------------

    def create(self, resource: dict[str, Any], *, rid: str | None = None) -> WriteResult:
        """Create a resource with a server-assigned id (``rid`` when a transaction chose it).

        Any ``id`` in the body is ignored, as https://hl7.org/fhir/R4/http.html#create allows.
        """
        rtype = validate_json_form(resource)
        check_reference_forms(resource)
        findings = self.services.validator.check(resource)
        prepared = self._prepared(rtype, resource, None)
        grant = self._check_write(Action.CREATE, prepared, None)
        issues = self._profile_issues(prepared, findings if prepared is resource else None)
        resource = prepared
        rid = rid or new_id()
        self._checked(rtype, rid, resource, None)
        return self._queue(rtype, rid, resource, None, "POST", issues, "created", grant)

    def update(
        self,
        resource_type: str,
        rid: str,
        resource: dict[str, Any],
        *,
        if_match: IfMatch = None,
        if_none_match: IfNoneMatch = None,
        method: str = "PUT",
        labels_only: bool = False,
    ) -> WriteResult:
        """Update (or create with a client-chosen id when update-as-create is on).

        ``if_none_match`` (RFC 9110 §13.1.2): ``"*"`` writes only when no current version
        exists (412 otherwise), a set of version ids only when the current one is not in it.
        ``labels_only``: the caller changed nothing but ``meta.security``
        (:meth:`update_labels`); the rules judge it as ``UPDATE_LABELS``.
        """
        _check_body_identity(resource, resource_type, rid)
        validate_json_form(resource)
        check_reference_forms(resource)
        findings = self.services.validator.check(resource)
        current = self._tx_current(resource_type, rid)
        if current is not None and not self.visible(current, Action.READ):
            self.note_refused(current.patient_id)
            self._refuse_as_new(resource_type, rid, resource, if_match)
            # Hidden from this caller: as absent as it is to a read, and not theirs to take.
            raise NotFound(f"{resource_type}/{rid} is not known", code="GW-3004")
        _check_if_match(current, if_match, resource_type, rid)
        _check_if_none_match(current, if_none_match, resource_type, rid)
        exists = current is not None and not current.deleted
        if not exists and not self.services.settings.update_create:
            raise _no_update_as_create(resource_type, rid)
        prepared = self._prepared(resource_type, resource, current if exists else None)
        if exists:
            action = Action.UPDATE_LABELS if labels_only else Action.UPDATE
            grant = self._check_write(action, prepared, current)
            prepared = _with_kept_labels(prepared, grant.kept_labels)
        else:
            grant = self._check_write(Action.CREATE, prepared, None)
        issues = self._profile_issues(prepared, findings if prepared is resource else None)
        resource = prepared
        if exists and current is not None and _same_content(resource, current):
            return WriteResult("unchanged", current, tuple(issues))
        self._checked(resource_type, rid, resource, current if exists else None)
        status = "updated" if exists else "created"
        return self._queue(resource_type, rid, resource, current, method, issues, status, grant)

    def delete(self, resource_type: str, rid: str, *, if_match: IfMatch = None) -> WriteResult:
        """Logical delete: a tombstone version; history is kept."""
        current = self._tx_current(resource_type, rid)
        if current is None or not self.visible(current, Action.READ):
            self.note_refused(current.patient_id if current is not None else None)
            raise NotFound(f"{resource_type}/{rid} is not known")
        _check_if_match(current, if_match, resource_type, rid)
        if current.deleted:
            return WriteResult("unchanged", current)
        self._check_write(Action.DELETE, None, current)
        now = self._now(current)
        op = WriteOp(
            resource_type=resource_type,
            id=rid,
            version=current.version + 1,
            last_updated=now,
            method="DELETE",
            content=None,
            patient_id=current.patient_id,
            index=None,
            existing_pk=current.pk,
            author=current.author,
            author_structure=current.author_structure,
            created=current.created,
        )
        self._enqueue(op)
        return WriteResult("deleted", _as_version(op))

    # -- steps -------------------------------------------------------------------------

    def _refuse_as_new(
        self, resource_type: str, rid: str, resource: dict[str, Any], if_match: IfMatch
    ) -> None:
        """An update of a resource hidden from the caller answers what an update of an id
        that does not exist would answer whenever that answer is a refusal: a failed
        If-Match (412), no update-as-create (405), or the create refused by the access
        rules (403, same code and reason). Otherwise the answer would tell whether a hidden
        resource exists (404 for one, 403 for a new id). Only when the caller could create
        that body does the caller get the hiding 404 (they cannot take the id).

        The create is judged on the body under a fresh id that exists nowhere, so that a
        Patient body is not judged on the stored facts of the hidden patient (their
        consents, their INS): the decision must not depend on what the caller may not see.
        """
        _check_if_match(None, if_match, resource_type, rid)
        if not self.services.settings.update_create:
            raise _no_update_as_create(resource_type, rid)
        probe = {**resource, "id": new_id()}
        prepared = self._prepared(resource_type, probe, None)
        self._check_write(Action.CREATE, prepared, None)

    def update_labels(
        self,
        resource_type: str,
        rid: str,
        *,
        add: list[dict[str, Any]],
        remove: list[dict[str, Any]],
    ) -> WriteResult:
        """``$meta-add`` / ``$meta-delete`` of security labels: a new version whose only
        change is ``meta.security``, judged as ``UPDATE_LABELS`` (a patient masks or
        unmasks a document of their record; the rules say which labels who may add or
        remove). Codings are the same when they name the same label: a known label by
        any of its published systems (TRE_A07's URL or OID), another by system and code."""
        current = self._tx_current(resource_type, rid)
        if current is None or current.deleted or not self.visible(current, Action.READ):
            self.note_refused(current.patient_id if current is not None else None)
            raise NotFound(f"{resource_type}/{rid} is not known", code="GW-3004")
        body = loads_stored(current.content or b"{}")

        def key(coding: dict[str, Any]) -> str:
            return canonical_label(coding.get("system"), coding.get("code"))

        dropped = {key(c) for c in remove}
        security = [
            c for c in (body.get("meta") or {}).get("security") or [] if key(c) not in dropped
        ]
        for coding in add:
            if key(coding) not in {key(c) for c in security}:
                security.append(coding)
        meta = {k: v for k, v in (body.get("meta") or {}).items() if k != "security"}
        if security:
            meta["security"] = security
        changed = {**body, "meta": meta} if meta else {k: v for k, v in body.items() if k != "meta"}
        return self.update(resource_type, rid, changed, labels_only=True)

    def _check_write(
        self, action: Action, resource: dict[str, Any] | None, current: StoredVersion | None
    ) -> WriteGrant:
        """The rules' grant for this write; a refusal notes the patient for the audit."""
        try:
            return self.services.policy.check_write(self, action, resource, current)
        except Forbidden:
            if current is not None and current.patient_id:
                self.note_refused(current.patient_id)
            elif resource is not None:
                key = patient_of(resource)
                if key is not None and key.startswith("Patient/"):
                    self.note_refused(key.split("/", 1)[1])
            raise

    def _tx_current(self, resource_type: str, rid: str) -> StoredVersion | None:
        return self.tx.current(resource_type, rid, lock=True)

    def _prepared(
        self, rtype: str, resource: dict[str, Any], current: StoredVersion | None
    ) -> dict[str, Any]:
        for hook in self.services.write_hooks:
            if hook.resource_type == rtype:
                resource = hook.prepare(self, resource, current)
        return resource

    def _checked(
        self, rtype: str, rid: str, resource: dict[str, Any], current: StoredVersion | None
    ) -> None:
        for check in self.services.write_checks:
            if check.resource_type == rtype:
                check.check(self.tx, rid, resource, current)

    def _profile_issues(
        self, resource: dict[str, Any], findings: Findings | None = None
    ) -> list[Issue]:
        issues = self.services.validator.validate(resource, findings)
        errors = [i for i in issues if i.is_error]
        if errors:
            raise Unprocessable(
                f"{resource.get('resourceType')} does not conform to its profiles "
                f"({len(errors)} error{'s' if len(errors) > 1 else ''})",
                issues=issues,
                code="GW-4001",
            )
        return issues

    def _now(self, current: StoredVersion | None) -> int:
        now = max(self.services.clock(), self._last_now)
        if current is not None and now <= current.last_updated:
            now = current.last_updated + 1  # versions of one resource never go back in time
        self._last_now = now
        return now

    def _queue(
        self,
        rtype: str,
        rid: str,
        resource: dict[str, Any],
        current: StoredVersion | None,
        method: str,
        issues: list[Issue],
        status: str,
        grant: WriteGrant,
    ) -> WriteResult:
        version = current.version + 1 if current is not None else 1
        now = self._now(current)
        stamped = stamp(resource, rid, version, now)
        indexer = self.services.indexer
        op = WriteOp(
            resource_type=rtype,
            id=rid,
            version=version,
            last_updated=now,
            method=method,
            content=dumps(stamped),
            patient_id=indexer.patient_of(stamped),
            index=indexer.rows(stamped),
            existing_pk=current.pk if current is not None else None,
            author=grant.author,
            author_structure=grant.author_structure,
            created=current.created if current is not None and current.created else now,
        )
        self._enqueue(op)
        return WriteResult(status, _as_version(op), tuple(issues))  # type: ignore[arg-type]

    def _enqueue(self, op: WriteOp) -> None:
        self._pending.append(op)
        if op.resource_type in FACT_TYPES:
            # The patients' facts this unit loaded may no longer hold: read them again.
            self._forget_facts()


def _with_kept_labels(resource: dict[str, Any], kept: frozenset[str]) -> dict[str, Any]:
    """Put back the security labels the caller tried to drop but may not remove."""
    if not kept:
        return resource
    meta = dict(resource.get("meta") or {})
    meta["security"] = [*(meta.get("security") or []), *(coding_for(k) for k in sorted(kept))]
    return {**resource, "meta": meta}


def _as_version(op: WriteOp) -> StoredVersion:
    return StoredVersion(
        resource_type=op.resource_type,
        id=op.id,
        version=op.version,
        last_updated=op.last_updated,
        deleted=op.deleted,
        content=op.content,
        patient_id=op.patient_id,
        method=op.method,
        author=op.author,
        author_structure=op.author_structure,
        created=op.created,
    )


def _check_body_identity(resource: Any, resource_type: str, rid: str) -> None:
    if not is_valid_id(rid):
        raise BadRequest(f"Invalid resource id '{shown(rid)}' in the URL", code="GW-1201")
    if not isinstance(resource, dict):
        raise BadRequest(f"The body is {json_kind(resource)}, not a JSON object", code="GW-1001")
    if resource.get("resourceType") != resource_type:
        raise BadRequest(
            f"The body is a {resource.get('resourceType')!s}, the URL names a {resource_type}",
            expression="resourceType",
            code="GW-1204",
        )
    if resource.get("id") != rid:
        raise BadRequest(
            f"The body's id must equal the id in the URL ('{rid}')",
            expression=f"{resource_type}.id",
            code="GW-1205",
        )


def _check_if_match(
    current: StoredVersion | None, if_match: IfMatch, resource_type: str, rid: str
) -> None:
    if if_match is None:
        return
    if current is None or current.deleted or if_match not in ("*", current.version):
        have = "none" if current is None or current.deleted else str(current.version)
        wanted = "a current version" if if_match == "*" else f"version {if_match}"
        raise PreconditionFailed(
            f"If-Match expected {wanted} of {resource_type}/{rid}; the current version is {have}",
            code="GW-3012",
        )


def _no_update_as_create(resource_type: str, rid: str) -> MethodNotAllowed:
    return MethodNotAllowed(
        f"{resource_type}/{rid} does not exist and this server does not allow update-as-create",
        code="GW-3007",
    )


def _check_if_none_match(
    current: StoredVersion | None, if_none_match: IfNoneMatch, resource_type: str, rid: str
) -> None:
    if if_none_match is None or current is None or current.deleted:
        return  # no current representation: every If-None-Match condition holds
    if if_none_match == "*" or current.version in if_none_match:
        raise PreconditionFailed(
            f"If-None-Match: {resource_type}/{rid} already exists "
            f"(version {current.version}); not written",
            code="GW-3017",
        )


def _same_content(resource: dict[str, Any], current: StoredVersion) -> bool:
    if current.content is None:
        return False
    old = without_server_meta(loads_stored(current.content))
    return old == without_server_meta(resource)
