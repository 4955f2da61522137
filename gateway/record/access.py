"""The DMP access rules wired into the repository (the :class:`AccessPolicy` seam).

Every read, search match, include, history entry and write of every caller passes here
(DESIGN.md: access is enforced in one place). The decision itself is the pure
:mod:`gateway.policy` engine; this module turns stored versions into its inputs
(:func:`gateway.policy.resource_facts`, authorship from the columns written by the
gateway, never from the content) and its answers into 403s and write grants.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson

from gateway.errors import Forbidden
from gateway.fhir.instant import from_micros
from gateway.fhir.references import parse_reference
from gateway.policy import (
    Action,
    Decision,
    Policy,
    ResourceClasses,
    ResourceFacts,
    check_create,
    check_update,
    reasons,
    resource_facts,
)
from gateway.record.seams import AccessUnit, WriteGrant
from gateway.storage.records import StoredVersion

_NO_CONTENT: dict[str, Any] = {}


class AccessRules:
    def __init__(self, policy: Policy, classes: ResourceClasses) -> None:
        self.policy = policy
        self.classes = classes

    # -- reads -------------------------------------------------------------------------

    def may_read(self, unit: AccessUnit, version: StoredVersion, action: Action) -> bool:
        if unit.ctx.kind == "dev":  # decided without parsing anything
            return self.policy.options.dev_mode
        return self.explain(unit, version, action).permitted

    def explain(self, unit: AccessUnit, version: StoredVersion, action: Action) -> Decision:
        body = _body(version)
        if version.resource_type == "Binary":
            secured = _secured(unit, body)
            if secured is not None:  # a Binary is judged as the resource it secures
                return self.explain(unit, secured, action)
        facts = self._facts(version, body)
        patient = facts.patient
        patient_facts = unit.patient_facts(patient.split("/", 1)[1]) if patient else None
        if facts.consent is not None and patient_facts is not None:
            # The actors a Consent names by literal reference, resolved like the patient's.
            facts = self._facts(version, body, dict(patient_facts.actor_references))
        memo = unit.decision_memo(self.policy)
        return memo.evaluate(action, facts, patient_facts, now=unit.now())

    def may_search_type(self, unit: AccessUnit, resource_type: str) -> bool:
        """Whether the caller may read resources of this type at all (type level).

        A chain, ``_has`` or ``_list`` over a type the caller may not read would let it
        probe contents it cannot see (``Observation?subject:Patient.name=…``); the search
        refuses those with a 400 instead of answering.
        """
        ctx = unit.ctx
        if ctx.kind == "dev":
            return self.policy.options.dev_mode
        klass = self.classes.types.get(resource_type)
        if klass in (None, "excluded"):
            return False
        if klass == "not-clinical":
            return True
        if ctx.kind == "auditor":
            return klass == "audit"
        if ctx.kind == "admin":
            return klass in ("administrative", "roster") and resource_type != "Patient"
        if klass in ("audit", "consent"):
            return ctx.kind == "patient" and klass == "consent"
        if ctx.kind == "patient" or klass in ("administrative", "roster"):
            return True
        if klass not in self.policy.matrix.classes:  # by document type: any readable class
            return any(self._cell(ctx, c) for c in self.policy.matrix.classes)
        return self._cell(ctx, klass)

    def _cell(self, ctx: Any, klass: str) -> bool:
        row = "system" if ctx.kind == "system" else ctx.profession
        cell = self.policy.matrix.cell(
            row,
            klass,
            specialty=None if ctx.kind == "system" else ctx.specialty,
            role=None if ctx.kind == "system" else ctx.role,
        )
        return cell is not None and cell.read

    # -- writes ------------------------------------------------------------------------

    def check_write(
        self,
        unit: AccessUnit,
        action: Action,
        resource: dict[str, Any] | None,
        current: StoredVersion | None,
    ) -> WriteGrant:
        ctx = unit.ctx
        if ctx.kind == "dev" and self.policy.options.dev_mode:
            return WriteGrant(author=ctx.subject, author_structure=ctx.structure)
        now = unit.now()
        if resource is not None and resource.get("resourceType") == "Binary":
            return self._binary_write(unit, resource)
        if current is not None and current.resource_type == "Binary":
            return self._binary_write(unit, _body(current))
        if action is Action.CREATE:
            assert resource is not None
            new = self._facts_of(resource, author=ctx.subject, structure=ctx.structure)
            change = check_create(
                ctx, new, self._patient_facts(unit, new), policy=self.policy, now=now
            )
            _raise_unless(change.decision)
            return WriteGrant(
                author=ctx.subject,
                author_structure=ctx.structure,
                obligations=_obligations(change.decision),
            )
        assert current is not None
        old = self._facts(current, _body(current))
        if action is Action.DELETE:
            decision = self.policy.evaluate(
                ctx, action, old, self._patient_facts(unit, old), now=now
            )
            _raise_unless(decision)
            return WriteGrant(author=current.author, author_structure=current.author_structure)
        assert resource is not None
        new = self._facts_of(
            resource,
            author=current.author,
            structure=current.author_structure,
            created=current.created,
        )
        change = check_update(
            ctx,
            old,
            new,
            self._patient_facts(unit, old),
            policy=self.policy,
            labels_only=action is Action.UPDATE_LABELS,
            now=now,
        )
        _raise_unless(change.decision)
        return WriteGrant(
            kept_labels=change.kept,
            author=current.author,
            author_structure=current.author_structure,
            obligations=_obligations(change.decision),
        )

    def _binary_write(self, unit: AccessUnit, body: dict[str, Any]) -> WriteGrant:
        """A Binary's content is written by whoever may change the resource it secures
        (``Binary.securityContext``, e.g. its DocumentReference); alone it is refused."""
        secured = _secured(unit, body)
        if secured is None:
            raise Forbidden(
                "Access denied: a Binary needs a securityContext naming a resource this "
                "caller may change (e.g. its DocumentReference, written first)",
                code="GW-2003",
            )
        facts = self._facts(secured, _body(secured))
        decision = self.policy.evaluate(
            unit.ctx, Action.UPDATE, facts, self._patient_facts(unit, facts), now=unit.now()
        )
        _raise_unless(decision)
        return WriteGrant(author=unit.ctx.subject, author_structure=unit.ctx.structure)

    # -- inputs of the engine ------------------------------------------------------------

    def _facts(
        self,
        version: StoredVersion,
        body: dict[str, Any],
        references: dict[str, str] | None = None,
    ) -> ResourceFacts:
        return resource_facts(
            body or {"resourceType": version.resource_type, "id": version.id},
            classes=self.classes,
            author=version.author,
            author_structure=version.author_structure,
            created_at=from_micros(version.created) if version.created is not None else None,
            patient=f"Patient/{version.patient_id}" if version.patient_id else None,
            references=references,
        )

    def _facts_of(
        self,
        resource: dict[str, Any],
        *,
        author: str | None,
        structure: str | None,
        created: int | None = None,
        patient_id: str | None = None,
    ) -> ResourceFacts:
        return resource_facts(
            resource,
            classes=self.classes,
            author=author,
            author_structure=structure,
            created_at=from_micros(created).astimezone(UTC) if created is not None else None,
        )

    @staticmethod
    def _patient_facts(unit: AccessUnit, facts: ResourceFacts) -> Any:
        if facts.patient and facts.patient.startswith("Patient/"):
            return unit.patient_facts(facts.patient.split("/", 1)[1])
        return None


def _secured(unit: AccessUnit, body: dict[str, Any]) -> StoredVersion | None:
    """The live resource a Binary's ``securityContext`` names, if any."""
    context = body.get("securityContext")
    ref = context.get("reference") if isinstance(context, dict) else None
    parsed = parse_reference(ref) if isinstance(ref, str) else None
    if parsed is None or parsed.resource_type == "Binary":
        return None
    found = unit.current(parsed.resource_type, parsed.id)
    return found if found is not None and not found.deleted else None


def _body(version: StoredVersion) -> dict[str, Any]:
    if version.content is None:
        return _NO_CONTENT
    value = orjson.loads(version.content)
    return value if isinstance(value, dict) else _NO_CONTENT


def _obligations(decision: Decision) -> tuple[str, ...]:
    return tuple(o.code for o in decision.obligations)


#: Refusals told to the caller as another rule. A patient's block (PDSm4DMP TD0.2) is the
#: patient's private choice: the blocked professional or structure is refused as anyone
#: without a care relationship is, not told that the patient blocked them (a read of
#: the record answers *not found* for the same reason). The audit log keeps the true
#: decision for the patient and auditors.
_TOLD_AS = {
    reasons.BLOCKED_PROFESSIONAL.code: reasons.NO_RELATIONSHIP,
    reasons.BLOCKED_STRUCTURE.code: reasons.NO_RELATIONSHIP,
}


def _raise_unless(decision: Decision) -> None:
    if not decision.permitted:
        told = _TOLD_AS.get(decision.reason.code, decision.reason)
        raise Forbidden(
            f"Access denied (rule {told.rule}: {told.code}): {told.text}",
            code="GW-2003",
        )
