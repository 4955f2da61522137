"""The walk: one resource's JSON checked against compiled profiles, element by element.

For each object the walker looks up each JSON member in the object's :class:`Shape`
(unknown members, arrays where a single value is expected and the reverse are structure
errors), checks each value against its rule and type (primitive JSON type and lexical
form, fixed/pattern, binding, reference target, identifier check keys), recurses into
complex values, then checks cardinality, slices and extensions, and the invariants.
Expressions are FHIRPath with an index on every array item
(``Patient.identifier[0].value``) and ``ofType()`` on choice elements
(``Observation.value.ofType(Quantity)``); a missing element is reported at its own path.

The walker decides what to check and where; what is wrong is said by the module of each
concept: :mod:`~gateway.validation.structure`, :mod:`~gateway.validation.cardinality`,
:mod:`~gateway.validation.primitives`, :mod:`~gateway.validation.bindings`,
:mod:`~gateway.validation.references`, :mod:`~gateway.validation.domain` and
:mod:`~gateway.validation.invariants`.

See https://hl7.org/fhir/R4/validation.html and https://hl7.org/fhir/R4/json.html.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import Severity
from gateway.validation import report as rc
from gateway.validation.bindings import check_binding
from gateway.validation.cardinality import count, report_cardinality
from gateway.validation.compiler import CompiledProfile
from gateway.validation.domain import identifier_problem
from gateway.validation.elements import (
    EXTENSION,
    IDENTIFIER,
    NO_VALUE,
    PRIMITIVE,
    REFERENCE,
    ElementRule,
    Shape,
    TypeRef,
)
from gateway.validation.extensions import in_context, instance_path
from gateway.validation.fhirpath import Env
from gateway.validation.fixed import describe, matches_fixed, matches_pattern
from gateway.validation.invariants import Invariant, evaluate
from gateway.validation.package import type_url
from gateway.validation.primitives import json_kind, report_invalid
from gateway.validation.references import BundleContext, check_reference, contained_types
from gateway.validation.registry import ProfileRegistry
from gateway.validation.report import Recording, Report
from gateway.validation.selection import ProfileChooser
from gateway.validation.slicing import check_slice_counts, compile_matchers, match, slice_type
from gateway.validation.structure import has_extension_part, report_array_shape, report_unknown

#: Invariants not applied to contained resources: "Contained resources do not have
#: narrative" (R4 DomainResource.text, comment), so dom-6 does not concern them.
CONTAINED_EXEMPT = frozenset({"dom-6"})
#: The path a slice probe walks an item at (see :meth:`Walker.conforms`)
_PROBE = "$probe"


class Walker:
    """One validation run: shared by the top resource and the resources nested in it."""

    __slots__ = (
        "best_practice",
        "bundle",
        "checkers",
        "chooser",
        "contained",
        "env",
        "probed",
        "registry",
        "report",
        "resource_codes",
        "resource_path",
        "strict",
    )

    def __init__(
        self,
        registry: ProfileRegistry,
        chooser: ProfileChooser,
        report: Report,
        bundle: BundleContext | None,
        strict: bool,
        best_practice: Severity | None = "information",
    ) -> None:
        self.best_practice = best_practice
        self.registry = registry
        self.chooser = chooser
        self.report = report
        self.bundle = bundle
        self.strict = strict
        self.env = Env(None, None, None)
        self.contained: dict[str, str] = {}
        self.resource_path = ""
        self.checkers = registry.primitives
        self.resource_codes = registry.resource_codes
        #: the probe walk of the slice :meth:`conforms` last accepted, if it can be replayed
        self.probed: Recording | None = None

    # -- resources -----------------------------------------------------------------------
    def resource(
        self, resource: dict[str, Any], profiles: list[CompiledProfile], path: str, root: bool
    ) -> None:
        env, report = self.env, self.report
        saved = (env.resource, env.root_resource, self.contained, self.resource_path)
        in_base = report.in_base
        env.resource = resource
        self.resource_path = path
        if root:
            env.root_resource = resource
            self.contained = contained_types(resource)
        try:
            for profile in profiles:
                # The chooser drops the base definition when a profile derives from it.
                report.in_base = profile.url == type_url(profile.type)
                self.object(self.registry.root_shape(profile), resource, path, True)
        finally:
            env.resource, env.root_resource, self.contained, self.resource_path = saved
            report.in_base = in_base

    def nested(self, value: dict[str, Any], path: str, contained: bool) -> None:
        self.report.path_dependent()  # its resource_path and in_base switches
        profiles = self.chooser.choose(value, (), path, self.report)
        if profiles:
            self.resource(value, profiles, path, root=not contained)

    # -- objects -------------------------------------------------------------------------
    def object(self, shape: Shape, obj: dict[str, Any], path: str, is_resource: bool) -> None:
        members = shape.members
        groups: list[tuple[ElementRule, TypeRef, list[Any], str]] | None = None
        for key, value in obj.items():
            entry = members.get(key)
            if entry is None:
                if key[:1] == "_":
                    self.element_only(shape, obj, key, value, path)
                elif key != "resourceType" or not is_resource:
                    report_unknown(shape, key, path, self.registry, self.report)
                continue
            rule, tref, segment, grouped = entry
            if rule.array:
                if value.__class__ is not list or not value:
                    report_array_shape(rule, value, path + segment, self.report)
                    continue
                if grouped:
                    if groups is None:
                        groups = []
                    groups.append((rule, tref, value, path + segment))
                    if tref.kind == EXTENSION:
                        continue  # walked once, against its definition, by group()
                if tref.kind == PRIMITIVE:
                    # The hot path: most elements are primitives, and most are valid, so
                    # their FHIRPath is only built when something is reported.
                    checker = tref.checker or self.checkers.get(tref.code)
                    for i, element in enumerate(value):
                        if element is None or checker is None:
                            self.item(rule, tref, element, f"{path}{segment}[{i}]", obj, key, i)
                        elif (problem := checker(element)) is not None:
                            report_invalid(tref, problem, f"{path}{segment}[{i}]", self.report)
                        elif rule.checks:
                            self.primitive_checks(rule, tref, element, f"{path}{segment}[{i}]")
                else:
                    here = path + segment
                    item = self.item
                    for i, element in enumerate(value):
                        item(rule, tref, element, f"{here}[{i}]", obj, key, i)
            else:
                if value.__class__ is list:
                    report_array_shape(rule, value, path + segment, self.report)
                    continue
                if tref.kind == PRIMITIVE and value is not None:
                    checker = tref.checker or self.checkers.get(tref.code)
                    if checker is not None and (problem := checker(value)) is not None:
                        report_invalid(tref, problem, path + segment, self.report)
                    elif rule.checks:
                        self.primitive_checks(rule, tref, value, path + segment)
                else:
                    self.item(rule, tref, value, path + segment, obj, key, -1)
                if grouped:
                    if groups is None:
                        groups = []
                    groups.append((rule, tref, [value], path + segment))
        if groups is not None or shape.checks:
            self.finish(shape, obj, path, groups, is_resource)

    def finish(
        self,
        shape: Shape,
        obj: dict[str, Any],
        path: str,
        groups: list[tuple[ElementRule, TypeRef, list[Any], str]] | None,
        is_resource: bool,
    ) -> None:
        """Once per object: cardinality, slices and extensions, invariants."""
        for rule, keys in shape.required:
            for key, ext_key in keys:
                if key in obj or ext_key in obj:
                    break
            else:
                report_cardinality(rule, 0, path, self.report)
                continue
            if rule.min > 1:
                found = count(obj, keys)
                if found < rule.min:
                    report_cardinality(rule, found, path, self.report)
        for rule, keys in shape.limited:
            found = count(obj, keys)
            if rule.max is not None and found > rule.max:
                report_cardinality(rule, found, path, self.report)
        for rule, keys in shape.choice_groups:
            present = [k for k, _ in keys if k in obj]
            if len(present) > 1:
                self.report.error(
                    "structure",
                    rc.STRUCTURE,
                    f"only one {rule.name}[x] value is allowed, found {', '.join(present)}",
                    f"{path}.{rule.name}",
                    True,
                )
        if groups is not None:
            for rule, tref, items, here in groups:
                self.group(rule, tref, items, here, shape.type_code)
        invariants = shape.invariants
        if is_resource and self.env.resource is not self.env.root_resource:
            invariants = tuple(i for i in invariants if i.key not in CONTAINED_EXEMPT)
        if invariants:
            self.invariants(invariants, obj, path, None)

    def element_only(
        self, shape: Shape, obj: dict[str, Any], key: str, value: Any, path: str
    ) -> None:
        """``_name``: the id and extensions of primitive ``name`` (FHIR R4 §2.6.2.2)."""
        entry = shape.members.get(key[1:])
        # Resource.id, Element.id and Extension.url are FHIRPath System.String: no id,
        # no extensions.
        if entry is None or not entry[1].primitive or entry[0].bare:
            report_unknown(shape, key, path, self.registry, self.report)
            return
        rule, tref, segment, _ = entry
        here = path + segment
        with_value = key[1:] in obj
        if rule.array:
            if value.__class__ is not list:
                message = f"{key} must be a JSON array"
                self.report.error("structure", rc.STRUCTURE, message, here, True)
                return
            for i, part in enumerate(value):
                if part is not None or not with_value:
                    self.extension_part(rule, tref, part, f"{here}[{i}]")
        else:
            self.extension_part(rule, tref, value, here)

    def extension_part(self, rule: ElementRule, tref: TypeRef, part: Any, here: str) -> None:
        if part.__class__ is not dict or not part:
            message = "a primitive's extension part must be an object"
            self.report.error("structure", rc.STRUCTURE, message, here, True)
        else:
            self.object(self.registry.shape(rule, tref), part, here, False)

    # -- values --------------------------------------------------------------------------
    def item(
        self,
        rule: ElementRule,
        tref: TypeRef,
        value: Any,
        here: str,
        owner: dict[str, Any] | None = None,
        key: str = "",
        index: int = -1,
    ) -> None:
        """One value of ``rule``; ``owner``/``key``/``index`` locate it, for ``_key``."""
        kind = tref.kind
        if kind == PRIMITIVE:
            if value is None:
                if not has_extension_part(owner, key, index):
                    self.report.error("structure", rc.STRUCTURE, "null is not a value", here, True)
                return
            checker = tref.checker or self.checkers.get(tref.code)
            problem = checker(value) if checker is not None else None
            if problem is not None:
                report_invalid(tref, problem, here, self.report)
            elif rule.checks:
                self.primitive_checks(rule, tref, value, here)
            return
        if value.__class__ is not dict:
            self.report.error(
                "structure",
                rc.STRUCTURE,
                f"must be a JSON object ({tref.code}), not {json_kind(value)}",
                here,
                True,
            )
            return
        if not value:
            message = "an element must have a value or children"
            self.report.error("structure", rc.STRUCTURE, message, here, True)
            return
        code = tref.code
        if code in self.resource_codes:
            self.nested(value, here, rule.name == "contained")
            return
        shape = rule.shapes.get(id(tref)) or self.registry.shape(rule, tref)
        self.object(shape, value, here, False)
        if rule.checks:
            if rule.fixed is not NO_VALUE or rule.pattern is not NO_VALUE:
                self.fixed(rule, value, here)
            if rule.binding is not None:
                check_binding(
                    rule.binding, code, value, here, self.registry.terminology, self.report
                )
        if kind == IDENTIFIER:
            problem_text = identifier_problem(value)
            if problem_text is not None:
                self.report.error("value", rc.IDENTIFIER, problem_text, here + ".value")
        elif kind == REFERENCE:
            check_reference(value, tref.targets, here, self.contained, self.bundle, self.report)

    def primitive_checks(self, rule: ElementRule, tref: TypeRef, value: Any, here: str) -> None:
        if rule.fixed is not NO_VALUE or rule.pattern is not NO_VALUE:
            self.fixed(rule, value, here)
        if rule.max_length is not None and len(str(value)) > rule.max_length:
            self.report.error(
                "value", rc.VALUE, f"longer than the maximum of {rule.max_length}", here
            )
        if rule.binding is not None:
            check_binding(
                rule.binding, tref.code, value, here, self.registry.terminology, self.report
            )
        if rule.invariants:
            self.invariants(rule.invariants, value, here, tref.code)

    def fixed(self, rule: ElementRule, value: Any, here: str) -> None:
        if rule.fixed is not NO_VALUE and not matches_fixed(value, rule.fixed):
            self.report.error(
                "value", rc.FIXED, f"must be exactly {describe(rule.fixed)} ({rule.label})", here
            )
        if rule.pattern is not NO_VALUE and not matches_pattern(value, rule.pattern):
            self.report.error(
                "value",
                rc.FIXED,
                f"must match the pattern {describe(rule.pattern)} ({rule.label})",
                here,
            )

    # -- slices and extensions ----------------------------------------------------------
    def group(
        self, rule: ElementRule, tref: TypeRef, items: list[Any], here: str, host: str
    ) -> None:
        slicing = rule.slicing
        is_extension = tref.code == "Extension"
        slice_of: list[ElementRule | None] = [None] * len(items)
        probed: list[Recording | None] = [None] * len(items)
        if slicing is not None and slicing.slices:
            if slicing.matchers is None:
                slicing.matchers = compile_matchers(slicing, self.registry)
            for i, item in enumerate(items):
                if item.__class__ is dict or tref.primitive:
                    self.probed = None
                    slice_of[i] = match(slicing.matchers, item, tref, self.conforms)
                    # conforms() returning True ends match(): a probe is of the chosen slice
                    probed[i] = self.probed
            self.probed = None
        for i, item in enumerate(items):
            where = f"{here}[{i}]" if rule.array else here
            chosen = slice_of[i]
            recording = probed[i]
            if recording is not None:
                recording.replay(self.report, where)
            elif chosen is not None:
                self.item(chosen, slice_type(chosen, tref), item, where)
            elif is_extension:
                self.extension(rule, tref, item, where, host)
            elif slicing is not None and slicing.rules == "closed" and slicing.slices:
                self.report.error(
                    "structure",
                    rc.SLICING,
                    f"does not match any slice of {rule.path} (slicing is closed)",
                    where,
                )
        if slicing is not None and slicing.slices:
            check_slice_counts(slicing, slice_of, rule, here, self.report)

    def extension(self, rule: ElementRule, tref: TypeRef, item: Any, here: str, host: str) -> None:
        """An extension no slice claims: checked against its definition, found by URL."""
        url = item.get("url") if item.__class__ is dict else None
        profile = self.registry.profile(url) if isinstance(url, str) else None
        if profile is None or profile.type != "Extension":
            self.item(rule, tref, item, here)
            # A relative url names a part of a complex extension: only its parent's
            # definition gives it meaning, and an unknown parent is already reported.
            if isinstance(url, str) and (":" in url or not rule.path.startswith("Extension.")):
                modifier = rule.name == "modifierExtension"
                severity: Severity = "error" if modifier or self.strict else "warning"
                kind = "modifier extension" if modifier else "extension"
                self.report.add(severity, "extension", rc.EXTENSION, f"Unknown {kind} {url}", here)
            return
        self.report.path_dependent()
        path = instance_path(here.rsplit(".", 1)[0], self.resource_path, self.env.resource)
        if profile.contexts and not in_context(profile.contexts, path, host, self.resource_codes):
            self.report.error(
                "extension",
                rc.EXTENSION,
                f"Extension {url} may not be used here (its contexts: "
                f"{', '.join(profile.contexts)})",
                here,
            )
        self.object(self.registry.root_shape(profile), item, here, False)

    def conforms(self, rule: ElementRule, item: Any, tref: TypeRef) -> bool:
        """Whether ``item`` validates against ``rule`` without error (slice matching).

        When it does, the probe's report is kept in :attr:`probed`, for :meth:`group` to
        replay at the item's path instead of walking the item again."""
        recording = Recording(_PROBE)
        probe = Walker(
            self.registry, self.chooser, recording, self.bundle, self.strict, self.best_practice
        )
        probe.env = Env(self.env.resource, self.env.root_resource, None)
        probe.contained = self.contained
        probe.item(rule, slice_type(rule, tref), item, _PROBE)
        if recording.error_count:
            return False
        if recording.replayable:
            self.probed = recording
        return True

    def invariants(
        self, invariants: tuple[Invariant, ...], node: Any, here: str, type_code: str | None
    ) -> None:
        env = self.env
        env.context = node
        env.context_type = type_code
        evaluate(invariants, node, here, env, self.report, self.best_practice)
