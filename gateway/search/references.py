"""Reading literal references and canonicals (https://hl7.org/fhir/R4/references.html).

- relative ``Type/id`` and ``Type/id/_history/n`` → type and id (the version is dropped:
  a search on a reference matches every version of the target);
- absolute ``http(s)://…/Type/id`` → kept whole as ``url`` and also split into type and
  id, so that ``subject=Patient/1`` finds a reference written with the server's base;
- ``urn:uuid:``/``urn:oid:`` and other URIs → ``url`` only;
- ``#id`` → a contained resource, typed from the container's ``contained`` list;
- canonicals ``url|version`` (https://hl7.org/fhir/R4/references.html#canonical) →
  ``url`` and ``version``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_TYPE = r"[A-Z][A-Za-z]{1,63}"
_ID = r"[A-Za-z0-9\-.]{1,64}"
_RELATIVE = re.compile(rf"^({_TYPE})/({_ID})(?:/_history/[A-Za-z0-9\-.]{{1,64}})?$")
_ABSOLUTE_TAIL = re.compile(rf"/({_TYPE})/({_ID})(?:/_history/[A-Za-z0-9\-.]{{1,64}})?$")
_CONDITIONAL = re.compile(rf"^({_TYPE})\?")


@dataclass(frozen=True, slots=True)
class ParsedReference:
    type: str | None
    id: str | None
    url: str | None
    version: str | None = None


@lru_cache(maxsize=8192)
def parse_reference(text: str, declared_type: str | None = None) -> ParsedReference:
    """Split a literal reference; ``declared_type`` is ``Reference.type`` when given."""
    m = _RELATIVE.match(text)
    if m:
        return ParsedReference(m.group(1), m.group(2), None)
    if text.startswith(("http://", "https://")):
        m = _ABSOLUTE_TAIL.search(text)
        if m:
            return ParsedReference(m.group(1), m.group(2), text)
        return ParsedReference(declared_type, None, text)
    m = _CONDITIONAL.match(text)
    if m:
        return ParsedReference(m.group(1), None, text)
    return ParsedReference(declared_type, None, text)


def parse_canonical(text: str) -> ParsedReference:
    """A canonical URL with an optional ``|version``; typed when it ends in ``Type/id``."""
    url, sep, version = text.partition("|")
    m = _ABSOLUTE_TAIL.search(url)
    return ParsedReference(
        m.group(1) if m else None, m.group(2) if m else None, url, version if sep else None
    )


def reference_type(item: Any, root: dict[str, Any]) -> str | None:
    """The resource type a Reference (dict) or canonical/uri (str) points to, if knowable."""
    if item.__class__ is str:
        return parse_canonical(item).type
    if item.__class__ is not dict:
        return None
    ref = item.get("reference")
    declared = item.get("type")
    if not isinstance(ref, str):
        return declared if isinstance(declared, str) else None
    if ref.startswith("#"):
        return _contained_type(root, ref[1:])
    m = _RELATIVE.match(ref)
    if m:
        return m.group(1)
    if isinstance(declared, str):
        return declared
    return parse_reference(ref).type


def _contained_type(root: dict[str, Any], local_id: str) -> str | None:
    contained = root.get("contained")
    if isinstance(contained, list):
        for res in contained:
            if isinstance(res, dict) and res.get("id") == local_id:
                rtype = res.get("resourceType")
                return rtype if isinstance(rtype, str) else None
    return None
