"""The profile registry: loaded definitions, compiled once into checkers, cached.

:class:`ProfileRegistry` owns the package index, the terminology, the invariant compiler
and the primitive checkers. It compiles a profile on first use (generating the snapshot of
a differential-only profile from its base), and computes the :class:`Shape` of each
(element, type) pair once. Nothing here reads a file or the network.

Profiles and snapshots are built under a lock, taken only on a cache miss, so a thread never
sees a profile "missing" because another is building it. Shapes and slice matchers are
built without it: building them twice gives the same result, published by one store.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from gateway.validation.compiler import CompiledProfile, compile_structure, type_code
from gateway.validation.elements import NO_VALUE, ElementRule, Keys, Member, Shape, TypeRef
from gateway.validation.invariants import Invariant, InvariantCompiler
from gateway.validation.package import HL7_STRUCTURE, ConformanceIndex, canonical_url, type_url
from gateway.validation.primitives import Checker, build_checkers
from gateway.validation.snapshot import SnapshotError, generate_snapshot
from gateway.validation.terminology import Terminology

_MISSING: Final = object()


class ProfileRegistry:
    def __init__(self, index: ConformanceIndex) -> None:
        self.index = index
        self.terminology = Terminology(index)
        structures = list(index.of_type("StructureDefinition"))
        self.primitives: dict[str, Checker] = build_checkers(structures)
        self.resource_types = frozenset(
            str(sd["type"])
            for sd in structures
            if sd.get("kind") == "resource"
            and sd.get("derivation") == "specialization"
            and sd.get("abstract") is not True
        )
        #: type codes whose values are whole resources (``contained``, ``entry.resource``)
        self.resource_codes = self.resource_types | {"Resource", "DomainResource"}
        choice_names, type_names = _model_names(structures)
        self.invariants = InvariantCompiler(choice_names, type_names)
        self._profiles: dict[str, CompiledProfile | None] = {}
        self._snapshots: dict[str, list[dict[str, Any]] | None] = {}
        self._building: set[str] = set()
        # Taken only on a cache miss: a profile is compiled by one thread, while the others
        # wait for it rather than see it missing.
        self._lock = threading.RLock()
        #: canonical URL → why it could not be compiled
        self.problems: dict[str, str] = {}
        self._base_types: dict[str, frozenset[str] | None] = {}

    # -- definitions ---------------------------------------------------------------------
    def base_allows_type(self, path: str, suffix: str) -> bool:
        """Whether the core definition of the choice element ``path`` (``Observation.
        value[x]``) allows the type a JSON member names by ``suffix`` (``Quantity``,
        ``DateTime``). True when the element is not found: only the profile can tell."""
        if path not in self._base_types:
            found: frozenset[str] | None = None
            for element in self.snapshot(type_url(path.split(".", 1)[0])) or ():
                if element.get("path") == path:
                    codes = (t.get("code") for t in element.get("type") or ())
                    found = frozenset(c[:1].upper() + c[1:] for c in codes if isinstance(c, str))
                    break
            self._base_types[path] = found
        allowed = self._base_types[path]
        return allowed is None or suffix in allowed

    def snapshot(self, url: str) -> list[dict[str, Any]] | None:
        """The snapshot elements of ``url``: published, or generated from base + differential."""
        url = canonical_url(url)
        found = self._snapshots.get(url, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        with self._lock:
            found = self._snapshots.get(url, _MISSING)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
            if url in self._building:
                return None  # a baseDefinition cycle
            self._building.add(url)
            try:
                elements = self._make_snapshot(url)
            finally:
                self._building.discard(url)
            self._snapshots[url] = elements
            return elements

    def _make_snapshot(self, url: str) -> list[dict[str, Any]] | None:
        sd = self.index.structure(url)
        if sd is None:
            return None
        published = (sd.get("snapshot") or {}).get("element")
        if published:
            return list(published)
        base_url = sd.get("baseDefinition")
        base = self.snapshot(base_url) if isinstance(base_url, str) else None
        if base is None:
            self.problems[url] = f"its base {base_url} is not available"
            return None
        try:
            return generate_snapshot(sd, base, self.snapshot)
        except SnapshotError as exc:
            self.problems[url] = f"snapshot generation failed: {exc}"
            return None

    def profile(self, url: str) -> CompiledProfile | None:
        """The compiled profile for ``url`` (cached); ``None`` if we do not hold it."""
        url = canonical_url(url)
        found = self._profiles.get(url, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        with self._lock:
            found = self._profiles.get(url, _MISSING)
            if found is not _MISSING:
                return found  # type: ignore[return-value]
            compiled: CompiledProfile | None = None
            sd = self.index.structure(url)
            elements = self.snapshot(url) if sd is not None else None
            if sd is not None and elements:
                try:
                    compiled = compile_structure(
                        sd, elements, self.invariants, self.target_type, self._ancestors(sd)
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    self.problems[url] = f"cannot be compiled: {exc}"
            self._profiles[url] = compiled
            return compiled

    def type_profile(self, type_ref: TypeRef) -> CompiledProfile | None:
        for url in type_ref.profiles:
            found = self.profile(url)
            if found is not None:
                return found
        return self.profile(type_url(type_ref.code))

    def _ancestors(self, sd: dict[str, Any]) -> frozenset[str]:
        seen: list[str] = []
        current: dict[str, Any] | None = sd
        while current is not None:
            base = current.get("baseDefinition")
            if not isinstance(base, str) or canonical_url(base) in seen:
                break
            seen.append(canonical_url(base))
            current = self.index.structure(base)
        return frozenset(seen)

    def target_type(self, url: str) -> str | None:
        """The resource type a target profile constrains (``None``: unknown, allow any)."""
        sd = self.index.structure(url)
        if sd is not None:
            return str(sd.get("type"))
        if url.startswith(HL7_STRUCTURE):
            name = url[len(HL7_STRUCTURE) :]
            if name in self.resource_types or name == "Resource":
                return name
        return None

    # -- shapes --------------------------------------------------------------------------
    def children_of(self, rule: ElementRule, type_ref: TypeRef) -> dict[str, ElementRule]:
        if rule.children is not None:
            return rule.children
        found = self.type_profile(type_ref)
        return (found.root.children or {}) if found is not None else {}

    def shape(self, rule: ElementRule, type_ref: TypeRef) -> Shape:
        """How to walk a value of ``type_ref`` under ``rule`` (computed once)."""
        key = id(type_ref)
        found = rule.shapes.get(key)
        if found is None:
            type_profile = self.type_profile(type_ref)
            type_invariants = type_profile.root.invariants if type_profile is not None else ()
            children = rule.children
            if children is None and type_profile is not None:
                children = type_profile.root.children
            found = build_shape(
                children or {},
                _merge(rule.invariants, type_invariants),
                self.primitives,
                type_ref.code,
            )
            rule.shapes[key] = found
        return found

    def root_shape(self, profile: CompiledProfile) -> Shape:
        found = profile.root.shapes.get(0)
        if found is None:
            found = build_shape(
                profile.root.children or {},
                profile.root.invariants,
                self.primitives,
                profile.type,
            )
            profile.root.shapes[0] = found
        return found


def _merge(a: tuple[Invariant, ...], b: tuple[Invariant, ...]) -> tuple[Invariant, ...]:
    keys = {i.key for i in a}
    return a + tuple(i for i in b if i.key not in keys)


def build_shape(
    children: dict[str, ElementRule],
    invariants: tuple[Invariant, ...],
    checkers: dict[str, Checker],
    type_code: str,
) -> Shape:
    members: dict[str, Member] = {}
    choices: dict[str, ElementRule] = {}
    keys: dict[int, Keys] = {}
    for name, child in children.items():
        grouped = child.slicing is not None or any(t.code == "Extension" for t in child.types)
        child.checks = bool(
            child.fixed is not NO_VALUE
            or child.pattern is not NO_VALUE
            or child.binding is not None
            or child.max_length is not None
            or child.invariants
        )
        if name.endswith("[x]"):
            base = name[:-3]
            choices[base] = child
            types = child.types
            pairs = []
            for t in types:
                members[base + t.suffix] = (child, t, f".{base}.ofType({t.code})", grouped)
                pairs.append((base + t.suffix, "_" + base + t.suffix))
            keys[id(child)] = tuple(pairs)
        else:
            t = child.types[0] if child.types else TypeRef("BackboneElement")
            members[name] = (child, t, "." + name, grouped)
            keys[id(child)] = ((name, "_" + name),)
        for t in child.types:
            if t.primitive:
                t.checker = checkers.get(t.code)
    rules = tuple(children.values())
    required = tuple((r, keys[id(r)]) for r in rules if r.min > 0)
    limited = tuple(
        (r, keys[id(r)]) for r in rules if r.max is not None and (r.array or r.max == 0)
    )
    choice_groups = tuple(
        (r, keys[id(r)]) for r in rules if r.path.endswith("[x]") and len(r.types) > 1
    )
    return Shape(
        members=members,
        required=required,
        limited=limited,
        choice_groups=choice_groups,
        checks=bool(required or limited or choice_groups or invariants),
        invariants=invariants,
        choices=choices,
        type_code=type_code,
    )


def _model_names(structures: list[dict[str, Any]]) -> tuple[frozenset[str], frozenset[str]]:
    """Choice element names (``value`` for ``value[x]``) and type suffixes, from the model."""
    choices: set[str] = set()
    suffixes: set[str] = set()
    for sd in structures:
        if sd.get("kind") in ("resource", "complex-type", "primitive-type"):
            name = str(sd.get("type", ""))
            suffixes.add(name[:1].upper() + name[1:])
        for element in (sd.get("snapshot") or {}).get("element") or ():
            path = str(element.get("path", ""))
            if path.endswith("[x]"):
                choices.add(path.rsplit(".", 1)[-1][:-3])
            for t in element.get("type") or ():
                code = type_code(t)
                suffixes.add(code[:1].upper() + code[1:])
    return frozenset(choices), frozenset(suffixes)
