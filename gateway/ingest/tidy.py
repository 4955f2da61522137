"""The last pass over every produced resource: what FHIR's primitive types require.

Sources put odd things in fields that become FHIR primitives. Rather than guard every
mapping, each resource is tidied once when it is added to a result:

- empty strings, lists and objects are removed (FHIR forbids them:
  https://hl7.org/fhir/R4/json.html#primitive, "empty values are not allowed");
- ``code``-typed values (``code``, ``status``, ``use``, ``gender``, ``contentType``…)
  get their inner whitespace collapsed to single spaces (the ``code`` regex
  ``[^\\s]+(\\s[^\\s]+)*``);
- ``uri``-typed values (``system``, ``url``, ``reference``) get any whitespace
  percent-encoded (a ``uri`` has none);
- strings lose the control characters FHIR forbids (below U+0020 except tab, CR, LF).
"""

from __future__ import annotations

import re
from typing import Any

_CODE_KEYS = frozenset(
    {
        "code",
        "status",
        "use",
        "gender",
        "intent",
        "contentType",
        "docStatus",
        "valueCode",
        "comparator",
    }
)
_URI_KEYS = frozenset({"system", "url", "reference"})
_WHITESPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _primitive(key: str, value: str) -> str:
    value = _CONTROL.sub("", value)
    if key in _CODE_KEYS:
        return _WHITESPACE.sub(" ", value).strip()
    if key in _URI_KEYS:
        return _WHITESPACE.sub("%20", value.strip())
    return value if value.strip() else ""


def tidy(node: Any, key: str = "") -> Any:
    """A copy of ``node`` without empty values and with valid primitive strings."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            cleaned = tidy(v, k)
            if cleaned is not None and cleaned != "" and cleaned != [] and cleaned != {}:
                out[k] = cleaned
        return out
    if isinstance(node, list):
        items = [tidy(v, key) for v in node]
        return [v for v in items if v is not None and v != "" and v != [] and v != {}]
    if isinstance(node, str):
        return _primitive(key, node)
    return node
