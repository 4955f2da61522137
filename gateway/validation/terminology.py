"""ValueSet expansion from local CodeSystems, and code membership.

A ValueSet is expanded once, from what the package holds: ``compose.include`` with listed
concepts (no CodeSystem needed), with a whole CodeSystem, or with filters ``is-a``,
``descendent-of`` and ``=`` on a CodeSystem we hold with ``content = complete``; nested
``valueSet`` includes; ``compose.exclude``. What cannot be enumerated locally (a system we
do not hold, a fragment, an unsupported filter) stays *open*: a code from it is
:attr:`Membership.UNKNOWN`, which the binding check turns into a warning naming the system,
never an error. A few grammar-based systems are checked by syntax (:data:`GRAMMARS`).

No terminology server is ever called. See https://hl7.org/fhir/R4/valueset.html#compositions
and https://hl7.org/fhir/R4/codesystem.html#filters.
"""

from __future__ import annotations

import enum
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gateway.validation.package import ConformanceIndex, canonical_url

#: Code systems defined by a grammar rather than a list: checked by their syntax.
GRAMMARS: dict[str, re.Pattern[str]] = {
    # BCP 13 (RFC 6838) media types, optionally with parameters.
    "urn:ietf:bcp:13": re.compile(
        r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
        r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(\"[^\"]*\"|[^;\s]+))*"
    ),
    # BCP 47 (RFC 5646) language tags, simplified to their shape.
    "urn:ietf:bcp:47": re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*"),
    # ISO 4217 currency codes: three capital letters.
    "urn:iso:std:iso:4217": re.compile(r"[A-Z]{3}"),
}


class Membership(enum.Enum):
    IN = "in"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class Expansion:
    """What we know of one ValueSet's codes."""

    url: str
    codes: dict[str, set[str]] = field(default_factory=dict)
    #: systems included that we cannot enumerate → why
    open_systems: dict[str, str] = field(default_factory=dict)
    #: why some of the value set is unknown regardless of system (missing nested sets)
    gaps: list[str] = field(default_factory=list)
    all_codes: frozenset[str] = frozenset()

    def check(self, system: str | None, code: str) -> tuple[Membership, str]:
        """Is ``system|code`` in the set? The string says why when it is not IN."""
        if system is None:
            if code in self.all_codes:
                return Membership.IN, ""
            grammars = [GRAMMARS[s] for s in self.open_systems if s in GRAMMARS]
            if any(g.fullmatch(code) for g in grammars):
                return Membership.IN, ""
            if len(grammars) < len(self.open_systems) or self.gaps:
                return Membership.UNKNOWN, self._why_open()
            return Membership.OUT, f"{code!r} is not in {self.url}"
        known = self.codes.get(system)
        if known is not None and code in known:
            return Membership.IN, ""
        grammar = GRAMMARS.get(system)
        if grammar is not None and system in self.open_systems:
            if grammar.fullmatch(code):
                return Membership.IN, ""
            return Membership.OUT, f"{code!r} is not a valid code of {system}"
        if system in self.open_systems:
            return Membership.UNKNOWN, self.open_systems[system]
        if self.gaps:
            return Membership.UNKNOWN, self._why_open()
        return Membership.OUT, f"{system}|{code} is not in {self.url}"

    def _why_open(self) -> str:
        reasons = list(self.open_systems.values()) + self.gaps
        return "; ".join(reasons[:3])

    def finish(self) -> Expansion:
        self.all_codes = frozenset(c for codes in self.codes.values() for c in codes)
        return self


class Terminology:
    """Expands ValueSets on first use and keeps the expansions."""

    def __init__(self, index: ConformanceIndex) -> None:
        self._index = index
        self._expansions: dict[str, Expansion | None] = {}
        self._building: set[str] = set()
        self._lock = threading.RLock()  # taken on a cache miss only

    def expansion(self, url: str) -> Expansion | None:
        """The expansion of ``url``; ``None`` when we do not hold the ValueSet at all."""
        url = canonical_url(url)
        if url in self._expansions:
            return self._expansions[url]
        with self._lock:
            if url in self._expansions:
                return self._expansions[url]
            if url in self._building:
                return None  # an include cycle
            self._building.add(url)
            try:
                vs = self._index.value_set(url)
                expansion = self._expand(vs) if vs is not None else None
            finally:
                self._building.discard(url)
            self._expansions[url] = expansion
            return expansion

    def _expand(self, vs: dict[str, Any]) -> Expansion:
        out = Expansion(str(vs.get("url")))
        compose = vs.get("compose") or {}
        if not compose and (vs.get("expansion") or {}).get("contains"):
            for system, code in _contains((vs.get("expansion") or {}).get("contains") or ()):
                out.codes.setdefault(system, set()).add(code)
            return out.finish()
        for include in compose.get("include") or ():
            self._include(out, include)
        for exclude in compose.get("exclude") or ():
            system = exclude.get("system")
            if isinstance(system, str) and exclude.get("concept"):
                removed = {str(c.get("code")) for c in exclude["concept"]}
                out.codes[system] = out.codes.get(system, set()) - removed
        return out.finish()

    def _include(self, out: Expansion, include: dict[str, Any]) -> None:
        nested = [self.expansion(v) for v in include.get("valueSet") or ()]
        for url, exp in zip(include.get("valueSet") or (), nested, strict=True):
            if exp is None:
                out.gaps.append(f"value set {canonical_url(url)} is not held")
        system = include.get("system")
        if not isinstance(system, str):
            for exp in nested:
                if exp is not None:
                    _merge(out, exp)
            return
        codes, why = self._system_codes(system, include)
        if codes is None:
            out.open_systems[system] = why
            return
        for exp in nested:
            if exp is not None:  # system + valueSet: the intersection (R4 ValueSet.compose)
                codes &= exp.codes.get(system, set())
        out.codes.setdefault(system, set()).update(codes)

    def _system_codes(self, system: str, include: dict[str, Any]) -> tuple[set[str] | None, str]:
        if include.get("concept"):
            return {str(c.get("code")) for c in include["concept"]}, ""
        cs = self._index.code_system(system)
        if cs is None:
            return None, f"code system {system} is not held"
        if cs.get("content") != "complete":
            return None, f"code system {system} is held only as {cs.get('content')!r}"
        concepts = cs.get("concept") or []
        codes = {code for code, _ in _walk(concepts, ())}
        for f in include.get("filter") or ():
            selected = _filter(concepts, f)
            if selected is None:
                return (
                    None,
                    f"filter {f.get('property')} {f.get('op')} on {system} is not supported",
                )
            codes &= selected
        return codes, ""


def _merge(out: Expansion, other: Expansion) -> None:
    for system, codes in other.codes.items():
        out.codes.setdefault(system, set()).update(codes)
    out.open_systems.update(other.open_systems)
    out.gaps.extend(other.gaps)


def _contains(items: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for item in items:
        if isinstance(item.get("system"), str) and isinstance(item.get("code"), str):
            yield item["system"], item["code"]
        yield from _contains(item.get("contains") or ())


def _walk(
    concepts: Iterable[dict[str, Any]], ancestors: tuple[str, ...]
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(code, its ancestors) for every concept of a hierarchical CodeSystem."""
    for concept in concepts:
        code = str(concept.get("code"))
        yield code, ancestors
        yield from _walk(concept.get("concept") or (), (*ancestors, code))


def _properties(concept: dict[str, Any]) -> dict[str, set[str]]:
    props: dict[str, set[str]] = {}
    for p in concept.get("property") or ():
        for key, value in p.items():
            if key.startswith("value"):
                text = ("true" if value else "false") if isinstance(value, bool) else str(value)
                props.setdefault(str(p.get("code")), set()).add(text)
    return props


def _filter(concepts: list[dict[str, Any]], f: dict[str, Any]) -> set[str] | None:
    op, prop, value = f.get("op"), f.get("property"), str(f.get("value"))
    if op in ("is-a", "descendent-of") and prop == "concept":
        parents = _parent_map(concepts)
        selected = {c for c, anc in parents.items() if value in anc}
        if op == "is-a" and value in parents:
            selected.add(value)
        return selected
    if op == "=" and isinstance(prop, str):
        found: set[str] = set()
        stack = list(concepts)
        while stack:
            concept = stack.pop()
            stack.extend(concept.get("concept") or ())
            if value in _properties(concept).get(prop, set()):
                found.add(str(concept.get("code")))
        return found
    return None


def _parent_map(concepts: list[dict[str, Any]]) -> dict[str, set[str]]:
    """code → all its ancestors, from nesting and from ``parent``/``subsumedBy`` properties."""
    direct: dict[str, set[str]] = {}
    for code, ancestors in _walk(concepts, ()):
        direct.setdefault(code, set()).update(ancestors[-1:])
    stack = list(concepts)
    while stack:
        concept = stack.pop()
        stack.extend(concept.get("concept") or ())
        props = _properties(concept)
        for key in ("parent", "subsumedBy"):
            for parent in props.get(key, set()):
                direct.setdefault(str(concept.get("code")), set()).add(parent)
    closure: dict[str, set[str]] = {}
    for code in direct:
        seen: set[str] = set()
        todo = list(direct[code])
        while todo:
            p = todo.pop()
            if p not in seen:
                seen.add(p)
                todo.extend(direct.get(p, ()))
        closure[code] = seen
    return closure
