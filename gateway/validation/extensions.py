"""Where an extension may be used: its definition's contexts against the element carrying it.

A context of type ``element`` names a type (``Address``, ``Element``, ``Resource``) or an
element path (``Patient.contact``); an extension is allowed on a value whose type, or whose
path from its resource, is one of them. Indexes and ``ofType()`` are dropped from the
instance path (``Patient.contact[0]`` → ``Patient.contact``).

See https://hl7.org/fhir/R4/defining-extensions.html#context.
"""

from __future__ import annotations

import re
from typing import Any

_INDEX = re.compile(r"\[\d+\]|\.ofType\([A-Za-z]+\)")
_ANY = frozenset({"Element", "Base"})
_ANY_RESOURCE = frozenset({"Resource", "DomainResource"})


def instance_path(owner: str, resource_path: str, resource: Any) -> str:
    """``Bundle.entry[0].resource.contact[1]`` → ``Patient.contact``: the element path, from
    its resource, of the value that carries an extension."""
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if isinstance(rtype, str) and owner.startswith(resource_path):
        owner = rtype + owner[len(resource_path) :]
    return _INDEX.sub("", owner)


def in_context(
    contexts: tuple[str, ...], path: str, host: str, resource_types: frozenset[str]
) -> bool:
    """Whether an extension on a value of type ``host`` at ``path`` fits one of ``contexts``."""
    for context in contexts:
        if context in _ANY or context in (host, path):
            return True
        if context in _ANY_RESOURCE and host in resource_types:
            return True
        if context.endswith("[x]") and path.startswith(context[:-3]):
            return True
    return False
