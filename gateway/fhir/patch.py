"""JSON Patch (RFC 6902) applied to a resource, with FHIR's restrictions.

https://hl7.org/fhir/R4/http.html#patch: the patch may not change ``resourceType`` or
``id``; the result must be a valid resource (checked afterwards by the writer).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from gateway.errors import BadRequest, Unprocessable


def apply_json_patch(resource: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply ``operations`` to a copy of ``resource``.

    A malformed patch document → 400; a patch that cannot apply to this resource
    (failed ``test``, missing path) or that changes the type or id → 422.
    """
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise BadRequest("A JSON Patch document is an array of operation objects", code="GW-1501")
    try:
        patch = jsonpatch.JsonPatch(operations)
        result = patch.apply(copy.deepcopy(resource))
    except jsonpatch.InvalidJsonPatch as exc:
        raise BadRequest(f"Invalid JSON Patch: {exc}", code="GW-1501") from None
    except jsonpatch.JsonPatchTestFailed as exc:
        raise Unprocessable(f"JSON Patch test failed: {exc}", code="GW-4501") from None
    except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPointerException) as exc:
        raise Unprocessable(f"JSON Patch cannot apply: {exc}", code="GW-4502") from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise BadRequest(f"Invalid JSON Patch: {exc}", code="GW-1501") from None
    if not isinstance(result, dict):
        raise Unprocessable("The patched document is not a resource", code="GW-4503")
    for key in ("resourceType", "id"):
        if result.get(key) != resource.get(key):
            raise Unprocessable(f"A patch may not change '{key}'", expression=key, code="GW-4503")
    return result
