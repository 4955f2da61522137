"""Snapshot generation: a differential applied to its base's snapshot.

Our gateway profiles are written as differentials (as authors write them); the loader
generates their snapshots. Supported, which is what our profiles and most FR-style
profiles use:

* constraining an element the base snapshot already lists (by ``id``): cardinality,
  types and profiles, ``fixed[x]``/``pattern[x]``, binding, slicing, ``mustSupport``,
  text; ``constraint`` entries are added to the base's;
* an element below a complex element the base does not unroll: the type's own snapshot
  (or its ``type.profile``'s) is unrolled under it first;
* a new slice (``id`` ending ``:sliceName``): a copy of the sliced element and whatever of
  its descendants are unrolled, inserted after the last slice already there.

Not supported (reported, not guessed): renamed choice elements (``valueQuantity`` instead
of ``value[x]``), re-slicing, ``contentReference`` targets.

See https://hl7.org/fhir/R4/profiling.html#snapshot and
https://hl7.org/fhir/R4/elementdefinition.html#interpretation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from gateway.validation.package import type_url

Elements = list[dict[str, Any]]
SnapshotOf = Callable[[str], Elements | None]


class SnapshotError(ValueError):
    """The differential uses a construct this generator does not support."""


def generate_snapshot(sd: dict[str, Any], base: Elements, snapshot_of: SnapshotOf) -> Elements:
    elements = [copy.deepcopy(e) for e in base]
    url = str(sd.get("url", ""))
    for diff in (sd.get("differential") or {}).get("element") or ():
        eid = str(diff.get("id") or diff.get("path"))
        index = _find(elements, eid)
        if index is None:
            index = _materialize(elements, eid, snapshot_of)
        _merge(elements[index], diff, url)
    return elements


def _find(elements: Elements, eid: str) -> int | None:
    for i, e in enumerate(elements):
        if e.get("id") == eid:
            return i
    return None


def _materialize(elements: Elements, eid: str, snapshot_of: SnapshotOf) -> int:
    parent_id, _, last = eid.rpartition(".")
    name, _, slice_name = last.partition(":")
    if not parent_id:
        raise SnapshotError(f"{eid}: no such root element")
    if slice_name:
        if "/" in slice_name:
            raise SnapshotError(f"{eid}: re-slicing is not supported")
        sliced_id = f"{parent_id}.{name}"
        sliced = _find(elements, sliced_id)
        if sliced is None:
            sliced = _materialize(elements, sliced_id, snapshot_of)
            unrolled = _find(elements, eid)  # the type's profile may define the slice
            if unrolled is not None:
                return unrolled
        return _new_slice(elements, sliced, eid, slice_name)
    parent = _find(elements, parent_id)
    if parent is None:
        parent = _materialize(elements, parent_id, snapshot_of)
    found = _find(elements, eid)
    if found is None:
        _unroll(elements, parent, snapshot_of)
        found = _find(elements, eid)
    if found is None:
        raise SnapshotError(f"{eid}: no such element in the base or its type")
    return found


def _group_end(elements: Elements, index: int) -> int:
    """Index just after the element at ``index``, its descendants and its slices."""
    eid = elements[index]["id"]
    end = index + 1
    while end < len(elements):
        other = str(elements[end].get("id", ""))
        if not other.startswith((eid + ".", eid + ":")):
            break
        end += 1
    return end


def _new_slice(elements: Elements, sliced: int, eid: str, slice_name: str) -> int:
    sliced_id = elements[sliced]["id"]
    block = [copy.deepcopy(elements[sliced])]
    for e in elements[sliced + 1 : _group_end(elements, sliced)]:
        other = str(e["id"])
        if other.startswith(sliced_id + "."):
            block.append(copy.deepcopy(e))
    head = block[0]
    head.pop("slicing", None)
    head["id"] = eid
    head["sliceName"] = slice_name
    for e in block[1:]:
        e["id"] = eid + str(e["id"])[len(sliced_id) :]
    at = _group_end(elements, sliced)
    elements[at:at] = block
    return at


def _unroll(elements: Elements, parent: int, snapshot_of: SnapshotOf) -> None:
    """Insert the children of the parent's (single) type under it."""
    owner = elements[parent]
    types = owner.get("type") or []
    if len(types) != 1:
        raise SnapshotError(f"{owner.get('id')}: cannot unroll an element with {len(types)} types")
    t = types[0]
    source = next((s for p in t.get("profile") or () if (s := snapshot_of(p))), None)
    if source is None:
        source = snapshot_of(type_url(str(t.get("code"))))
    if not source:
        raise SnapshotError(f"{owner.get('id')}: the definition of {t.get('code')} is not held")
    root_path = str(source[0]["path"])
    root_id = str(source[0].get("id", root_path))
    block = []
    for e in source[1:]:
        child = copy.deepcopy(e)
        child["path"] = owner["path"] + str(child["path"])[len(root_path) :]
        child["id"] = owner["id"] + str(child.get("id", e["path"]))[len(root_id) :]
        block.append(child)
    elements[parent + 1 : parent + 1] = block


_APPENDED = ("constraint", "condition")


def _merge(element: dict[str, Any], diff: dict[str, Any], url: str) -> None:
    for key, value in diff.items():
        if key in ("id", "path"):
            continue
        if key == "constraint":
            existing = {c.get("key") for c in element.get("constraint") or ()}
            added = [
                {**c, "source": c.get("source", url)} for c in value if c.get("key") not in existing
            ]
            element["constraint"] = list(element.get("constraint") or ()) + added
        elif key in _APPENDED:
            element[key] = list(element.get(key) or ()) + list(value)
        else:
            if key.startswith(("fixed", "pattern")):
                for old in [k for k in element if k.startswith(("fixed", "pattern"))]:
                    del element[old]
            element[key] = copy.deepcopy(value)
