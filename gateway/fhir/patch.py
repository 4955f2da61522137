"""JSON Patch (RFC 6902) applied to a resource, with FHIR's restrictions.

https://hl7.org/fhir/R4/http.html#patch: the patch may not change ``resourceType`` or
``id``; the result must be a valid resource (checked afterwards by the writer).

Error messages are written here, never taken from the library: ``jsonpointer`` and
``jsonpatch`` put the document (the whole resource) and Python types in theirs. A message
names the operation by its index and its JSON pointer, and says what is wrong there.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from gateway.errors import BadRequest, Unprocessable

_OPERATIONS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def apply_json_patch(resource: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply ``operations`` to a copy of ``resource``.

    A malformed patch document → 400; a patch that cannot apply to this resource
    (failed ``test``, missing path) or that changes the type or id → 422.
    """
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise BadRequest("A JSON Patch document is an array of operation objects", code="GW-1501")
    patches = [_parsed(index, op) for index, op in enumerate(operations)]
    result: Any = copy.deepcopy(resource)
    for index, (op, patch) in enumerate(zip(operations, patches, strict=True)):
        label = _label(index, op)
        try:
            result = patch.apply(result, in_place=True)
        except jsonpatch.InvalidJsonPatch as exc:
            # The library's own messages for a malformed operation are fixed texts.
            raise BadRequest(f"Invalid JSON Patch: {label}: {exc}", code="GW-1501") from None
        except jsonpatch.JsonPatchTestFailed:
            problem = _problem(result, op)
            if problem is None:
                raise Unprocessable(
                    f"JSON Patch test failed: {label}: the value at {op['path']} "
                    "is not the tested value",
                    code="GW-4501",
                ) from None
            raise Unprocessable(
                f"JSON Patch test failed: {label}: {problem}", code="GW-4501"
            ) from None
        except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPointerException):
            problem = _problem(result, op) or f"cannot apply at {op['path']}"
            raise Unprocessable(
                f"JSON Patch cannot apply: {label}: {problem}", code="GW-4502"
            ) from None
        except (TypeError, ValueError, KeyError, IndexError):
            raise BadRequest(f"Invalid JSON Patch: {label} cannot apply", code="GW-1501") from None
    if not isinstance(result, dict):
        raise Unprocessable("The patched document is not a resource", code="GW-4503")
    for key in ("resourceType", "id"):
        if result.get(key) != resource.get(key):
            raise Unprocessable(f"A patch may not change '{key}'", expression=key, code="GW-4503")
    return result


def _parsed(index: int, op: dict[str, Any]) -> jsonpatch.JsonPatch:
    """One operation checked for form (known ``op``, a well-formed ``path``) → 400 if not."""
    try:
        return jsonpatch.JsonPatch([op])
    except (jsonpatch.InvalidJsonPatch, jsonpatch.JsonPointerException) as exc:
        # Both carry only the operation's own fields (its op name, its path), never a document.
        raise BadRequest(
            f"Invalid JSON Patch: {_label(index, op)}: {exc}", code="GW-1501"
        ) from None


def _label(index: int, op: dict[str, Any]) -> str:
    name = op.get("op")
    return f"operation {index} ({name})" if name in _OPERATIONS else f"operation {index}"


def _problem(document: Any, op: dict[str, Any]) -> str | None:
    """What in ``document`` stops ``op``: a missing member or index on its ``from`` or ``path``.

    ``None`` when both locations resolve (the failure is elsewhere: a failed test, a move
    into its own child). Names only the pointer's own tokens, never the document's values.
    """
    name = op.get("op")
    pointers: list[tuple[str, bool]] = []
    if name in ("move", "copy") and isinstance(op.get("from"), str):
        pointers.append((op["from"], False))
    if isinstance(op.get("path"), str):
        pointers.append((op["path"], name in ("add", "move", "copy")))
    for pointer, may_be_new in pointers:
        problem = _unresolved(document, pointer, may_be_new=may_be_new)
        if problem is not None:
            return f"{problem} at {pointer}"
    if name == "remove" and op.get("path") == "":
        return "cannot remove the whole resource"
    source = op.get("from")
    if name == "move" and isinstance(source, str) and str(op.get("path")).startswith(source + "/"):
        return f"cannot move {op['from']} into its own child {op['path']}"
    return None


def _unresolved(document: Any, pointer: str, *, may_be_new: bool) -> str | None:
    """Why ``pointer`` does not reach into ``document``, or ``None`` when it does.

    With ``may_be_new`` (the target of ``add``, ``move``, ``copy``), the last token may
    name a member not there yet, or the end of an array (its length or ``-``).
    """
    try:
        parts = jsonpointer.JsonPointer(pointer).parts  # RFC 6901 tokens, ~0 ~1 undone
    except jsonpointer.JsonPointerException:
        return None  # not a pointer: the library's own refusal stands
    node = document
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                return None if last and may_be_new else f"no member '{part}'"
            node = node[part]
        elif isinstance(node, list):
            if part == "-" and last and may_be_new:
                return None
            if not part.isdigit() or (part != "0" and part.startswith("0")):
                return f"'{part}' is not an array index"
            index = int(part)
            if index > len(node) or (index == len(node) and not (last and may_be_new)):
                return f"no index {index}"
            node = node[index] if index < len(node) else None
        else:
            return f"no member '{part}' (the value before it is not an object or array)"
    return None
