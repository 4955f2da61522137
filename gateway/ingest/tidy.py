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

It runs on every resource, so the common case (nothing to fix) is kept cheap.
"""

from __future__ import annotations

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
_CONTROL = {c: None for c in range(32) if chr(c) not in "\t\r\n"}


def _primitive(key: str, value: str) -> str:
    if not value.isprintable():
        value = value.translate(_CONTROL)
    if key in _CODE_KEYS:
        return " ".join(value.split())
    if key in _URI_KEYS:
        parts = value.split()
        return value if len(parts) == 1 and parts[0] == value else "%20".join(parts)
    return "" if value.isspace() else value


_SPECIAL_KEYS = _CODE_KEYS | _URI_KEYS


def _list(items: list[Any], key: str) -> list[Any]:
    out = []
    special = key in _SPECIAL_KEYS
    for value in items:
        kind = type(value)
        if kind is str:
            if not value.isprintable() or (special and " " in value):
                value = _primitive(key, value)
            elif value.isspace():
                continue
            if value:
                out.append(value)
            continue
        if kind is dict:
            value = _dict(value)
        elif kind is list:
            value = _list(value, key)
        elif value is None:
            continue
        if value or value is False or value == 0:
            out.append(value)
    return out


def _dict(node: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in node.items():
        kind = type(value)
        if kind is str:
            # The common case is settled here by C calls, no Python call: this loop runs
            # over every node of every ingested resource. Printable text without a space
            # is already a valid code and uri, and other keys only drop blank text.
            if not value.isprintable() or (" " in value and key in _SPECIAL_KEYS):
                value = _primitive(key, value)
            elif value.isspace():
                continue
            if value:
                out[key] = value
            continue
        if kind is dict:
            value = _dict(value)
        elif kind is list:
            value = _list(value, key)
        elif value is None:
            continue
        if value or value is False or value == 0:
            out[key] = value
    return out


def tidy(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``resource`` without empty values and with valid primitive strings."""
    return _dict(resource)
