"""Slicing: which slice each item belongs to, slice cardinality, closed slicing.

Discriminators are compiled once per slicing into tests on an item:

* ``value``/``pattern`` on a path (``system``, ``url``, ``coding.code``, ``type``,
  ``$this``, ``extension('url').value``…): the expected value is read from the slice's
  ``fixed[x]``/``pattern[x]`` at that path (or below a fixed/pattern ancestor), from an
  extension slice's profile URL (path ``url``), or from a required binding's ValueSet;
* ``type`` on ``$this``: the item's type (choice elements);
* anything else (``profile``, ``exists``, a discriminator whose value the slice does not
  fix): the item matches when it validates against the slice without error.

See https://hl7.org/fhir/R4/profiling.html#discriminator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.validation import report as rc
from gateway.validation.bindings import coded_values
from gateway.validation.elements import NO_VALUE, ElementRule, Slicing, TypeRef
from gateway.validation.fixed import matches_fixed, matches_pattern
from gateway.validation.report import Report
from gateway.validation.terminology import Membership

if TYPE_CHECKING:
    from gateway.validation.registry import ProfileRegistry

#: (item, its type) → True/False, or None when the test cannot decide
Test = Callable[[Any, TypeRef], bool | None]
_SEGMENT = re.compile(r"extension\('([^']*)'\)|([A-Za-z$][A-Za-z0-9]*)(?:\[x\])?")


@dataclass(slots=True)
class SliceMatcher:
    rule: ElementRule
    tests: list[Test]


def _segments(path: str) -> list[tuple[str, str]]:
    """``coding.system`` → [("member","coding"),("member","system")]; extension(url) kept."""
    out: list[tuple[str, str]] = []
    for m in _SEGMENT.finditer(path):
        if m.group(1) is not None:
            out.append(("extension", m.group(1)))
        elif m.group(2) and m.group(2) != "$this":
            out.append(("member", m.group(2)))
    return out


def navigate(values: list[Any], segments: list[tuple[str, str]]) -> list[Any]:
    """The values reached from ``values`` along ``segments`` (arrays flattened)."""
    for kind, name in segments:
        nxt: list[Any] = []
        for v in values:
            if not isinstance(v, dict):
                continue
            if kind == "extension":
                nxt.extend(
                    e
                    for e in v.get("extension") or ()
                    if isinstance(e, dict) and e.get("url") == name
                )
                continue
            found = v.get(name, NO_VALUE)
            if found is NO_VALUE:
                for key, item in v.items():
                    if key.startswith(name) and key[len(name) : len(name) + 1].isupper():
                        found = item
                        break
            if isinstance(found, list):
                nxt.extend(found)
            elif found is not NO_VALUE and found is not None:
                nxt.append(found)
        values = nxt
    return values


def _expected(
    rule: ElementRule, segments: list[tuple[str, str]], registry: ProfileRegistry
) -> Test | None:
    """A test for one value/pattern discriminator, from what the slice fixes at the path."""
    element = rule
    walked: list[tuple[str, str]] = []
    for index, (kind, name) in enumerate(segments):
        own = _fixed_test(element, walked, segments[index:])
        if own is not None:
            return own
        children = element.children
        if children is None and element.types:
            first = element.types[0]
            if kind == "member" and name == "url" and first.code == "Extension" and first.profiles:
                url, rest = first.profiles[0], segments[index:]
                return lambda item, t: url in navigate([item], rest)
            children = registry.children_of(element, first)
        if not children:
            return None
        if kind == "extension":
            ext = children.get("extension")
            slices = ext.slicing.slices if ext is not None and ext.slicing else []
            nxt = next((s for s in slices if _extension_url(s) == name), None)
            if nxt is None:
                return None
            element = nxt
        else:
            child = children.get(name) or children.get(name + "[x]")
            if child is None:
                return None
            element = child
        walked.append((kind, name))
    own = _fixed_test(element, walked, [])
    if own is not None:
        return own
    binding = element.binding
    if binding is not None and binding.strength == "required" and element.types:
        return _binding_test(binding.value_set, element.types[0].code, segments, registry)
    return None


def _extension_url(rule: ElementRule) -> str | None:
    if rule.types and rule.types[0].profiles:
        return rule.types[0].profiles[0]
    url = (rule.children or {}).get("url")
    if url is not None and isinstance(url.fixed, str):
        return url.fixed
    return None


def _fixed_test(
    element: ElementRule, walked: list[tuple[str, str]], rest: list[tuple[str, str]]
) -> Test | None:
    """Compare the item's values at ``walked + rest`` with the fixed/pattern value's at ``rest``."""
    match: Callable[[Any, Any], bool]
    if element.fixed is not NO_VALUE:
        expected, match = element.fixed, matches_fixed
    elif element.pattern is not NO_VALUE:
        expected, match = element.pattern, matches_pattern
    else:
        return None
    wanted = navigate([expected], rest) if rest else [expected]
    if not wanted:
        return None
    full = walked + rest

    def test(item: Any, t: TypeRef) -> bool:
        have = navigate([item], full)
        return all(any(match(h, w) for h in have) for w in wanted)

    return test


def _binding_test(
    value_set: str, type_code: str, segments: list[tuple[str, str]], registry: ProfileRegistry
) -> Test | None:
    def test(item: Any, t: TypeRef) -> bool | None:
        expansion = registry.terminology.expansion(value_set)
        if expansion is None:
            return None
        unknown = False
        for value in navigate([item], segments):
            for system, code in coded_values(type_code, value) or ():
                verdict, _ = expansion.check(system, code)
                if verdict is Membership.IN:
                    return True
                unknown = unknown or verdict is Membership.UNKNOWN
        return None if unknown else False

    return test


def compile_matchers(slicing: Slicing, registry: ProfileRegistry) -> list[SliceMatcher]:
    matchers = []
    for rule in slicing.slices:
        tests: list[Test] = []
        for d in slicing.discriminators:
            test: Test | None = None
            segments = _segments(d.path)
            if d.type in ("value", "pattern"):
                test = _expected(rule, segments, registry)
            elif d.type == "type" and not segments:
                codes = frozenset(t.code for t in rule.types)
                test = _type_test(codes)
            tests.append(test if test is not None else _undecided)
        if not slicing.discriminators:
            tests.append(_undecided)
        matchers.append(SliceMatcher(rule, tests))
    return matchers


def _type_test(codes: frozenset[str]) -> Test:
    return lambda item, t: t.code in codes


def _undecided(item: Any, t: TypeRef) -> bool | None:
    return None


def match(
    matchers: list[SliceMatcher],
    item: Any,
    type_ref: TypeRef,
    conforms: Callable[[ElementRule, Any, TypeRef], bool],
) -> ElementRule | None:
    """The first slice ``item`` belongs to; undecided tests defer to ``conforms``."""
    for matcher in matchers:
        undecided = False
        for test in matcher.tests:
            verdict = test(item, type_ref)
            if verdict is False:
                break
            undecided = undecided or verdict is None
        else:
            if not undecided or conforms(matcher.rule, item, type_ref):
                return matcher.rule
    return None


def slice_type(rule: ElementRule, tref: TypeRef) -> TypeRef:
    """The type an item of type ``tref`` is walked as in slice ``rule``."""
    for t in rule.types:
        if t.code == tref.code:
            return t
    return rule.types[0] if rule.types else tref


def check_slice_counts(
    slicing: Slicing,
    slice_of: list[ElementRule | None],
    rule: ElementRule,
    here: str,
    out: Report,
) -> None:
    """Each slice's cardinality, and the order of slices when the slicing is ordered."""
    for s in slicing.slices:
        found = sum(1 for c in slice_of if c is s)
        if found < s.min:
            out.error(
                "required",
                rc.SLICING,
                f"slice {s.slice_name} of {rule.path}: minimum required = {s.min}, "
                f"but only found {found}",
                here,
            )
        elif s.max is not None and found > s.max:
            out.error(
                "structure",
                rc.SLICING,
                f"slice {s.slice_name} of {rule.path}: maximum allowed = {s.max}, "
                f"but found {found}",
                here,
            )
    if slicing.ordered:
        rank = {id(s): i for i, s in enumerate(slicing.slices)}
        last = -1
        for chosen in slice_of:
            position = rank[id(chosen)] if chosen is not None else len(slicing.slices)
            if position < last:
                out.error(
                    "structure", rc.SLICING, f"the slices of {rule.path} are out of order", here
                )
                return
            last = position
