"""Invariants (``ElementDefinition.constraint``), compiled once and evaluated per element.

Each constraint's FHIRPath ``expression`` is compiled by the fast evaluator
(:mod:`gateway.validation.fhirpath`); whatever it cannot decide falls back to
``fhirpathpy``; if that fails too, the invariant is reported as *not evaluated* (a warning
naming it), never silently skipped.

Some base invariants are implemented natively, because no FHIRPath engine can evaluate
them or because another check already enforces them exactly (:data:`NATIVE`):

* ``ele-1`` (every element has a value or children): enforced by the structural walk,
  which reports empty objects, empty arrays and ``null`` values (FHIR R4 §2.6.2 JSON);
* ``txt-1``/``txt-2`` (``htmlChecks()``): :mod:`gateway.validation.narrative`;
* ``dom-3`` (every contained resource is referenced): a native scan of the resource;
* ``ref-1`` (a local reference names a contained resource): a native lookup, because it
  runs on every Reference.

An invariant "fails" only when its expression evaluates to ``false``; an empty result
(e.g. comparing dates of different precision) is indeterminate and passes, as in FHIRPath
§5.1 three-valued logic.

See https://hl7.org/fhir/R4/conformance-rules.html#constraints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import fhirpathpy
from fhirpathpy.models import models as _fhirpath_models

from gateway.errors import Severity
from gateway.validation import narrative
from gateway.validation import report as rc
from gateway.validation.fhirpath import Env, Unsupported, compile_expression, parse
from gateway.validation.fhirpath_fused import compile_condition
from gateway.validation.report import Report

BEST_PRACTICE = "http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice"
Verdict = bool | str  # True: holds; False: fails; str: could not be evaluated, and why
Check = Callable[[Any, Env], Verdict]


@dataclass(frozen=True, slots=True)
class Guard:
    """When none of ``names`` is a member of the context object, the verdict is ``absent``.

    Sound for expressions whose every path starts at the context's members: no ``$this``,
    no function called on the context itself, no ``%resource``/``%rootResource``/
    ``%context``, no type names (see :func:`_guard_names`). Most invariants guard on rarely
    present members (``contained``, ``dataAbsentReason``…), so most evaluations are skipped.
    """

    plain: tuple[str, ...]  # member names and their ``_name`` forms
    choices: tuple[str, ...]  # choice names, matched as ``name`` + type suffix
    absent: bool

    def touches(self, node: dict[str, Any]) -> bool:
        for name in self.plain:
            if name in node:
                return True
        if self.choices:
            for key in node:
                for name in self.choices:
                    if key.startswith(name) and key[len(name) : len(name) + 1].isupper():
                        return True
        return False


@dataclass(frozen=True, slots=True)
class Invariant:
    key: str
    severity: Literal["error", "warning"]
    human: str
    expression: str
    check: Check
    guard: Guard | None = None
    #: marked ``elementdefinition-bestpractice``: its severity is a configuration choice
    best_practice: bool = False


def _contained_referenced(node: Any, env: Env) -> Verdict:
    """dom-3: each contained resource is referenced from the resource, or refers to it."""
    contained = node.get("contained") if isinstance(node, dict) else None
    if not isinstance(contained, list) or not contained:
        return True
    local_refs: set[str] = set()
    _collect_local_refs(node, local_refs)
    for resource in contained:
        if not isinstance(resource, dict):
            continue
        rid = resource.get("id")
        if isinstance(rid, str) and "#" + rid in local_refs:
            continue
        inner: set[str] = set()
        _collect_local_refs(resource, inner)
        if "#" not in inner:
            return False
    return True


def _collect_local_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for value in node.values():
            _collect_local_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect_local_refs(value, out)
    elif isinstance(node, str) and node.startswith("#"):
        out.add(node)


def _local_reference(node: Any, env: Env) -> Verdict:
    """ref-1: a local reference (``#id``) names a resource contained in the root resource."""
    ref = node.get("reference") if isinstance(node, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#"):
        return True
    root = env.root_resource if isinstance(env.root_resource, dict) else {}
    contained = root.get("contained")
    return isinstance(contained, list) and any(
        isinstance(c, dict) and c.get("id") == ref[1:] for c in contained
    )


def _html_checks(node: Any, env: Env) -> Verdict:
    return isinstance(node, str) and not narrative.html_problems(node)


def _html_content(node: Any, env: Env) -> Verdict:
    return isinstance(node, str) and narrative.has_content(node)


#: key → (the base expression it stands for, the native check; ``None``: enforced by the
#: structural walk). Matched on both, so a profile that reuses a key for another rule is
#: still evaluated as FHIRPath.
NATIVE: dict[str, tuple[str, Check | None]] = {
    "ele-1": ("hasValue() or (children().count() > id.count())", None),
    "txt-1": ("htmlChecks()", _html_checks),
    "txt-2": ("htmlChecks()", _html_content),
    "dom-3": (
        "contained.where((('#'+id in (%resource.descendants().reference",
        _contained_referenced,
    ),
    "ref-1": ("reference.startsWith('#').not() or (reference.substring(1)", _local_reference),
}


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and not isinstance(inputs[0], dict | list)]


_FALLBACK_OPTIONS = {"userInvocationTable": {"hasValue": {"fn": _has_value}}}


class InvariantCompiler:
    """Compiles constraints once; identical (key, expression) pairs share one check."""

    def __init__(self, choice_names: frozenset[str], type_names: frozenset[str]) -> None:
        self.choice_names = choice_names
        self.type_names = type_names
        self._cache: dict[tuple[str, str, str], Invariant] = {}

    def compile(self, constraint: dict[str, Any]) -> Invariant | None:
        expression = constraint.get("expression")
        key = str(constraint.get("key", "?"))
        if not isinstance(expression, str) or not expression.strip():
            return None
        severity: Literal["error", "warning"] = (
            "warning" if constraint.get("severity") == "warning" else "error"
        )
        native = NATIVE.get(key)
        if native is not None and expression.startswith(native[0]) and native[1] is None:
            return None
        cache_key = (key, expression, severity)
        found = self._cache.get(cache_key)
        if found is None:
            human = str(constraint.get("human", ""))
            check, guard = self._check(key, expression)
            best_practice = any(
                e.get("url") == BEST_PRACTICE and e.get("valueBoolean") is True
                for e in constraint.get("extension") or ()
            )
            found = Invariant(key, severity, human, expression, check, guard, best_practice)
            self._cache[cache_key] = found
        return found

    def _check(self, key: str, expression: str) -> tuple[Check, Guard | None]:
        native = NATIVE.get(key)
        if native is not None and expression.startswith(native[0]) and native[1] is not None:
            return native[1], None
        fallback = _Fallback(expression)
        try:
            tree = parse(expression)
            fast = compile_expression(expression, self.choice_names, self.type_names)
        except Exception:  # any parse or compile failure means "use fhirpathpy"
            return fallback, None

        def check(node: Any, env: Env) -> Verdict:
            try:
                result = fast(node, env)
            except Unsupported:
                return fallback(node, env)
            except Exception as exc:  # never let an expression crash validation
                return f"{type(exc).__name__}: {exc}"
            return _verdict(result)

        decide = compile_condition(tree, self.choice_names, self.type_names)
        if decide is not None:
            general = check

            def check(node: Any, env: Env) -> Verdict:
                # the fused forms decide most contexts without building collections; the
                # general evaluation runs whenever they cannot (see fhirpath_fused)
                verdict = decide(node)
                return general(node, env) if verdict is None else verdict

        return check, self._guard(tree, check)

    def _guard(self, tree: dict[str, Any], check: Check) -> Guard | None:
        names = _guard_names(tree)
        if names is None:
            return None
        empty: dict[str, Any] = {}
        absent = check(empty, Env(empty, empty, empty))
        if not isinstance(absent, bool):
            return None
        plain = tuple(sorted(names)) + tuple(sorted("_" + n for n in names))
        choices = tuple(sorted(n for n in names if n in self.choice_names))
        return Guard(plain, choices, absent)


class _NoGuard(Exception):
    pass


_CONTEXT_CONSTANTS = frozenset({"resource", "rootResource", "context"})
#: Functions whose argument is evaluated on the context even when their input is empty
#: (FHIRPath "AnyAtRoot" parameters); other functions give a result that depends on their
#: arguments only through a non-empty input.
_CONTEXT_ARG_FUNCTIONS = frozenset(
    {"combine", "union", "intersect", "exclude", "subsetOf", "supersetOf"}
)


def _guard_names(tree: dict[str, Any]) -> set[str] | None:
    """The context members the expression reads, or ``None`` if it may read the context
    itself (``$this``, a function applied to it, ``%resource``…, a type name)."""
    names: set[str] = set()

    def visit(node: dict[str, Any], at_context: bool) -> None:
        kind = node.get("type")
        children = node.get("children") or []
        if kind == "ExternalConstantTerm":
            identifier = (
                children[0]["children"][0] if children and children[0].get("children") else {}
            )
            if str(identifier.get("text", "")).strip("`") in _CONTEXT_CONSTANTS:
                raise _NoGuard
            return
        if kind == "InvocationTerm" and at_context:
            inner = children[0]
            if inner.get("type") in ("ThisInvocation", "FunctionInvocation"):
                raise _NoGuard
            if inner.get("type") == "MemberInvocation":
                name = str(inner["children"][0].get("text", "")).strip("`")
                if name[:1].isupper():
                    raise _NoGuard  # a type name stands for the context itself
                names.add(name)
                return
        if kind == "FunctionInvocation":  # chained: ``input.fn(args)``
            function = children[0]
            fname = str(function["children"][0].get("text", ""))
            params = function["children"][1]["children"] if len(function["children"]) > 1 else []
            for param in params:
                visit(param, at_context and fname in _CONTEXT_ARG_FUNCTIONS)
            return
        for child in children:
            visit(child, at_context)

    try:
        visit(tree, True)
    except _NoGuard:
        return None
    return names


class _Fallback:
    """``fhirpathpy`` evaluation, compiled on first use."""

    __slots__ = ("_compiled", "_error", "expression")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._compiled: Any = None
        self._error: str | None = None

    def __call__(self, node: Any, env: Env) -> Verdict:
        if self._compiled is None and self._error is None:
            try:
                self._compiled = fhirpathpy.compile(
                    self.expression, _fhirpath_models["r4"], _FALLBACK_OPTIONS
                )
            except Exception as exc:  # a parse failure is a reportable verdict
                self._error = f"cannot parse: {exc}"
        if self._error is not None:
            return self._error
        variables = {"resource": env.resource, "rootResource": env.root_resource}
        try:
            result = self._compiled(node, variables)
        except Exception as exc:  # fhirpathpy raises bare Exceptions
            return f"{type(exc).__name__}: {exc}"
        return _verdict(result)


def _verdict(result: list[Any]) -> Verdict:
    if not result:
        return True
    if len(result) > 1:
        return f"the expression gave {len(result)} values, not one boolean"
    return result[0] is not False


def evaluate(
    invariants: tuple[Invariant, ...],
    node: Any,
    here: str,
    env: Env,
    out: Report,
    best_practice: Severity | None,
) -> None:
    """Run ``invariants`` on ``node`` (``env`` already set for it) and report the failures.

    A failed best-practice invariant takes the configured ``best_practice`` severity
    (``None``: not reported); one that cannot be evaluated is a ``not-supported`` warning.
    """
    is_object = node.__class__ is dict
    for inv in invariants:
        guard = inv.guard
        if guard is not None and is_object and not guard.touches(node):
            verdict: bool | str = guard.absent
        else:
            verdict = inv.check(node, env)
        if verdict is True:
            continue
        if verdict is False:
            severity: Severity | None = best_practice if inv.best_practice else inv.severity
            if severity is not None:
                out.add(
                    severity,
                    "invariant",
                    rc.INVARIANT,
                    f"Constraint failed: {inv.key}: {inv.human}",
                    here,
                )
        else:
            out.warning(
                "not-supported",
                rc.NOT_EVALUATED,
                f"Invariant {inv.key} could not be evaluated ({verdict}): {inv.expression}",
                here,
            )
