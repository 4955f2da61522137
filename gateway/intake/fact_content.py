"""What a fact states, compared: the content rules of :mod:`gateway.intake.facts`.

Pure functions over FHIR resources (dicts): :func:`differences` lists the clinically
meaningful elements two statements of one fact disagree on, :func:`supersedes` says
whether a new status replaces a stored one, and :func:`summary` is what a conflict shows
of each side. The rules themselves are told in :mod:`gateway.intake.facts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_ANY = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
        "in-progress",
        "not-done",
        "on-hold",
        "completed",
        "stopped",
        "partial",
        "appended",
        "preparation",
        "declined",
        "active",
        "draft",
    }
)
_REPORT_EARLY = frozenset({"registered", "partial", "preliminary"})
_REPORT_REVISED = _REPORT_EARLY | {"final", "amended", "corrected", "appended"}
#: new status -> the stored statuses it supersedes.
_SUPERSEDES: dict[str, dict[str, frozenset[str]]] = {
    "Observation": {
        "corrected": _ANY,
        "amended": _ANY,
        "entered-in-error": _ANY - {"entered-in-error"},
        "final": frozenset({"registered", "preliminary"}),
        "preliminary": frozenset({"registered"}),
        "cancelled": frozenset({"registered", "preliminary"}),
    },
    "MedicationAdministration": {
        "entered-in-error": _ANY - {"entered-in-error"},
    },
    "DiagnosticReport": {
        "partial": frozenset({"registered"}),
        "preliminary": frozenset({"registered"}),
        "final": _REPORT_EARLY,
        "amended": _REPORT_REVISED,
        "corrected": _REPORT_REVISED,
        "appended": _REPORT_REVISED,
        "cancelled": _REPORT_EARLY,
        "entered-in-error": _ANY - {"entered-in-error"},
    },
    "MedicationDispense": {
        "completed": frozenset({"preparation", "in-progress"}),
        "entered-in-error": _ANY - {"entered-in-error"},
    },
    "MedicationRequest": {
        "on-hold": frozenset({"active"}),  # ORC-1 HD / OH
        "active": frozenset({"on-hold"}),  # ORC-1 RL (released)
        "cancelled": frozenset({"active", "on-hold", "draft"}),  # ORC-1 CA / OC / CR
        "stopped": frozenset({"active", "on-hold"}),  # ORC-1 DC / OD
        "completed": frozenset({"active", "on-hold"}),  # ORC-5 CM
        "entered-in-error": _ANY - {"entered-in-error"},
    },
}


def supersedes(resource_type: str, new: str, stored: str) -> bool:
    """True when a ``new`` status replaces a ``stored`` one (see the module docstring)."""
    return stored in _SUPERSEDES.get(resource_type, {}).get(new, frozenset())


#: Stored statuses a fact the payload says *replaces* it (ORC-1 XO) may change: an
#: order still in force. Types absent here are never changed that way.
_CHANGEABLE = {"MedicationRequest": frozenset({"active", "on-hold", "draft"})}


def changeable(resource_type: str, stored: Mapping[str, Any]) -> bool:
    """Whether a stored fact may be replaced by a payload that says it replaces it."""
    return stored.get("status") in _CHANGEABLE.get(resource_type, frozenset())


# -- what a resource states ------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _quantity(q: Any) -> tuple[Any, ...] | None:
    if not isinstance(q, dict):
        return None
    unit = ("code", q.get("system"), q["code"]) if q.get("code") else ("unit", q.get("unit"))
    return (_number(q.get("value")), q.get("comparator"), unit)


def _same_quantity(a: Any, b: Any) -> bool:
    qa, qb = _quantity(a), _quantity(b)
    if qa is None or qb is None:
        return qa == qb
    if qa[0] != qb[0] or qa[1] != qb[1]:
        return False
    if qa[2][0] == qb[2][0]:
        return bool(qa[2] == qb[2])
    return (a.get("unit") or None) == (b.get("unit") or None)


def _codes(concept: Any) -> set[tuple[str, str]]:
    if not isinstance(concept, dict):
        return set()
    return {
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding", [])
        if isinstance(c, dict) and c.get("code")
    }


def _same_concept(a: Any, b: Any) -> bool:
    ca, cb = _codes(a), _codes(b)
    if ca and cb:
        return bool(ca & cb)
    if ca or cb:
        return True  # one side coded, the other text only: not comparable
    ta = str(a.get("text", "")).casefold() if isinstance(a, dict) else ""
    tb = str(b.get("text", "")).casefold() if isinstance(b, dict) else ""
    return ta == tb


def _concepts(items: Any) -> list[Any]:
    return items if isinstance(items, list) else []


def _same_concept_list(a: Any, b: Any) -> bool:
    la, lb = _concepts(a), _concepts(b)
    return len(la) == len(lb) and all(_same_concept(x, y) for x, y in zip(la, lb, strict=True))


_VALUE_KEYS = (
    "valueQuantity",
    "valueCodeableConcept",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
    "component",
    "dataAbsentReason",
)


def _value_of(resource: Mapping[str, Any]) -> tuple[str, Any]:
    for key in _VALUE_KEYS:
        if key in resource:
            return key, resource[key]
    return "", None


def _same_value(kind: str, a: Any, b: Any) -> bool:
    if kind == "valueQuantity":
        return _same_quantity(a, b)
    if kind in ("valueCodeableConcept", "dataAbsentReason"):
        return _same_concept(a, b)
    if kind == "component":
        return _same_components(a, b)
    return bool(a == b)


def _same_components(a: Any, b: Any) -> bool:
    def by_code(items: Any) -> dict[tuple[str, str], tuple[str, Any]]:
        out: dict[tuple[str, str], tuple[str, Any]] = {}
        for c in _concepts(items):
            for code in sorted(_codes(c.get("code"))):
                out.setdefault(code, _value_of(c))
        return out

    ma, mb = by_code(a), by_code(b)
    if set(ma) != set(mb):
        return False
    return all(ma[k][0] == mb[k][0] and _same_value(ma[k][0], ma[k][1], mb[k][1]) for k in ma)


def _first(resource: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    items = resource.get(key)
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return items if isinstance(items, dict) else {}


def _text(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


def _dose(dosage: Mapping[str, Any]) -> Any:
    return _first(dosage, "doseAndRate").get("doseQuantity")


def _dosage_differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The first ``dosageInstruction``: its text, dose, route and timing (as sent)."""
    da, db = _first(stored, "dosageInstruction"), _first(new, "dosageInstruction")
    out: list[str] = []
    if "text" in da and "text" in db and _text(da["text"]) != _text(db["text"]):
        out.append("dosageInstruction.text")
    if _dose(da) is not None and _dose(db) is not None and not _same_quantity(_dose(da), _dose(db)):
        out.append("dosageInstruction.dose")
    if "route" in da and "route" in db and not _same_concept(da["route"], db["route"]):
        out.append("dosageInstruction.route")
    ta = (da.get("timing") or {}).get("code")
    tb = (db.get("timing") or {}).get("code")
    if ta is not None and tb is not None and not _same_concept(ta, tb):
        out.append("dosageInstruction.timing")
    return out


#: the key under which the stage puts the code of a referenced Medication (compared only).
MEDICATION = "_medication"


def _medication(resource: Mapping[str, Any]) -> Any:
    return resource.get("medicationCodeableConcept") or resource.get(MEDICATION)


def _medication_differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    ma, mb = _medication(stored), _medication(new)
    if ma is not None and mb is not None and not _same_concept(ma, mb):
        return ["medication"]
    return []


def _compare(
    out: list[str], stored: Mapping[str, Any], new: Mapping[str, Any], key: str, same: Any
) -> None:
    """``key`` differs when both sides carry it and ``same`` says they differ."""
    if key in stored and key in new and not same(stored[key], new[key]):
        out.append(key)


def _equal(a: Any, b: Any) -> bool:
    return bool(a == b)


def differences(stored: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The elements whose clinical content differs (empty: the same fact)."""
    out: list[str] = []
    if stored.get("status") != new.get("status"):
        out.append("status")
    kind = new.get("resourceType")
    if kind == "MedicationAdministration":
        da, db = stored.get("dosage") or {}, new.get("dosage") or {}
        if "dose" in da and "dose" in db and not _same_quantity(da["dose"], db["dose"]):
            out.append("dosage.dose")
        if "route" in da and "route" in db and not _same_concept(da["route"], db["route"]):
            out.append("dosage.route")
        return out
    if kind == "DiagnosticReport":
        _compare(out, stored, new, "code", _same_concept)
        _compare(out, stored, new, "effectiveDateTime", _equal)
        return out
    if kind == "MedicationDispense":
        out += _medication_differences(stored, new)
        _compare(out, stored, new, "quantity", _same_quantity)
        _compare(out, stored, new, "whenHandedOver", _equal)
        return out + _dosage_differences(stored, new)
    if kind == "MedicationRequest":
        out += _medication_differences(stored, new)
        ra, rb = stored.get("dispenseRequest") or {}, new.get("dispenseRequest") or {}
        if (
            "quantity" in ra
            and "quantity" in rb
            and not _same_quantity(ra["quantity"], rb["quantity"])
        ):
            out.append("dispenseRequest.quantity")
        repeats: list[str] = []
        _compare(repeats, ra, rb, "numberOfRepeatsAllowed", _equal)
        out += [f"dispenseRequest.{r}" for r in repeats]
        return out + _dosage_differences(stored, new)
    ka, va = _value_of(stored)
    kb, vb = _value_of(new)
    if ka != kb or not _same_value(ka, va, vb):
        out.append("value")
    if (
        "interpretation" in stored
        and "interpretation" in new
        and not _same_concept_list(stored["interpretation"], new["interpretation"])
    ):
        out.append("interpretation")
    return out


def _quantity_summary(out: dict[str, Any], q: Any) -> None:
    if isinstance(q, dict):
        out["value"] = q.get("value")
        out["unit"] = q.get("unit") or q.get("code")


def _concept_summary(concept: Any) -> Any:
    codes = sorted(_codes(concept))
    if codes:
        return codes[0][1]
    return concept.get("text") if isinstance(concept, dict) else None


def summary(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Value, unit and status of a fact, for the quarantine details (nothing else)."""
    out: dict[str, Any] = {"status": resource.get("status")}
    kind = resource.get("resourceType")
    if kind == "MedicationAdministration":
        _quantity_summary(out, (resource.get("dosage") or {}).get("dose"))
        return out
    if kind == "DiagnosticReport":
        out["value"] = _concept_summary(resource.get("code"))
        return out
    if kind in ("MedicationDispense", "MedicationRequest"):
        if kind == "MedicationDispense":
            _quantity_summary(out, resource.get("quantity"))
        else:
            _quantity_summary(out, (resource.get("dispenseRequest") or {}).get("quantity"))
        medication = _medication(resource)
        if medication is not None:
            out["medication"] = _concept_summary(medication)
        dose = _dose(_first(resource, "dosageInstruction"))
        if isinstance(dose, dict):
            out["dose"] = (
                f"{dose.get('value')} {dose.get('unit') or dose.get('code') or ''}".strip()
            )
        return out
    kind, value = _value_of(resource)
    if kind == "valueQuantity" and isinstance(value, dict):
        out["value"] = value.get("value")
        out["unit"] = value.get("unit") or value.get("code")
    elif kind == "component":
        parts = [_value_of(c)[1] for c in _concepts(value)]
        out["value"] = "/".join(
            str(p.get("value")) if isinstance(p, dict) else str(p) for p in parts
        )
        first = parts[0] if parts else None
        if isinstance(first, dict):
            out["unit"] = first.get("unit") or first.get("code")
    elif kind in ("valueCodeableConcept", "dataAbsentReason"):
        out["value" if kind.startswith("value") else "dataAbsentReason"] = _concept_summary(value)
    elif kind:
        out["value"] = value
    return out
