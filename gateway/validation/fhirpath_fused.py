"""Whole invariants decided directly on the JSON object, before the general evaluator.

Most conformance invariants are boolean combinations of presence tests on members of the
context: ``code.empty() or system.exists()`` (qty-3), ``extension.exists() !=
value.exists()`` (ext-1), ``(component.empty() and hasMember.empty()) implies
(dataAbsentReason.exists() or value.exists())`` (vs-2). Run through the general closures
(:mod:`gateway.validation.fhirpath`), each term builds collections and each operator
converts them back to booleans; invariants run on every element, so that overhead is a
visible share of validation.

:func:`compile_condition` turns such an expression into a *decider*: a function of the
context that returns ``True``/``False`` (the invariant holds / fails) or ``None`` when it
cannot decide quickly (a member holding an array or ``null``, a primitive with only its
``_name`` part, a context that is not an object, a term outside the fused forms that is
reached). ``None`` means "run the general evaluator on the whole expression", so the
verdict is always the general one: a decided answer is only given where every term it
read is a single value or plainly absent, where the general evaluator cannot raise and
gives the same booleans, and operators short-circuit in the same order
(FHIRPath §6.5 Boolean logic, http://hl7.org/fhirpath/N1/#boolean-logic).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.validation.fhirpath import presence_term

__all__ = ["Decider", "compile_condition"]

#: context → ``True``/``False`` (decided) or ``None`` (use the general evaluator)
Decider = Callable[[Any], bool | None]

_MISSING = object()


def _undecided(node: Any) -> bool | None:
    return None


def compile_condition(
    tree: dict[str, Any], choice_names: frozenset[str], type_names: frozenset[str]
) -> Decider | None:
    """The decider for the parse tree ``tree`` (from :func:`fhirpath.parse`), or ``None``
    when the expression has no presence term worth fusing."""
    builder = _Builder(choice_names, type_names)
    decider = builder.condition(tree["children"][0])
    return decider if builder.leaves else None


class _Builder:
    def __init__(self, choice_names: frozenset[str], type_names: frozenset[str]) -> None:
        self.choice_names = choice_names
        self.type_names = type_names
        self.leaves = 0

    def condition(self, n: dict[str, Any]) -> Decider:
        kind = str(n.get("type"))
        children = n.get("children") or []
        nested = len(children) == 1 and children[0].get("type") != "InvocationTerm"
        if kind in ("TermExpression", "ParenthesizedTerm") and nested:
            return self.condition(children[0])
        if kind == "InvocationExpression":
            leaf = self.presence(n)
            if leaf is not None:
                self.leaves += 1
                return leaf
        op = str((n.get("terminalNodeText") or [""])[0])
        if len(children) == 2 and (kind, op) in _OPERATORS:
            a, b = (self.condition(c) for c in children)
            return _OPERATORS[kind, op](a, b)
        return _undecided  # any other form: only the general evaluator knows

    def presence(self, n: dict[str, Any]) -> Decider | None:
        """``name.exists()``/``name.empty()`` on the context, as ``_Compiler.presence``
        recognises it, extended to choice names (``value.exists()`` finds ``valueQuantity``
        as ``_Compiler.member`` does)."""
        term = presence_term(n)
        if term is None:
            return None
        name, exists = term
        return _presence(name, exists, name in self.choice_names, self.type_names)


def _presence(name: str, exists: bool, choice: bool, suffixes: frozenset[str]) -> Decider:
    under = "_" + name
    size = len(name)

    def decide(node: Any) -> bool | None:
        if node.__class__ is not dict:
            return None
        value = node.get(name, _MISSING)
        if value is _MISSING and choice:
            for key, v in node.items():
                if key.startswith(name) and key[size:] in suffixes:
                    value = v
                    break
        if value is _MISSING:
            return None if under in node else not exists
        if value is None or value.__class__ is list:
            return None
        return exists

    return decide


def _or(a: Decider, b: Decider) -> Decider:
    def decide(node: Any) -> bool | None:
        x = a(node)
        if x is None or x:
            return x
        return b(node)

    return decide


def _and(a: Decider, b: Decider) -> Decider:
    def decide(node: Any) -> bool | None:
        x = a(node)
        if x is None or not x:
            return x
        return b(node)

    return decide


def _implies(a: Decider, b: Decider) -> Decider:
    def decide(node: Any) -> bool | None:
        x = a(node)
        if x is None:
            return None
        return b(node) if x else True

    return decide


def _differs(a: Decider, b: Decider) -> Decider:
    """``!=`` and ``xor`` on two booleans (both sides are always evaluated)."""

    def decide(node: Any) -> bool | None:
        x = a(node)
        if x is None:
            return None
        y = b(node)
        return None if y is None else x is not y

    return decide


def _same(a: Decider, b: Decider) -> Decider:
    def decide(node: Any) -> bool | None:
        x = a(node)
        if x is None:
            return None
        y = b(node)
        return None if y is None else x is y

    return decide


_OPERATORS: dict[tuple[str, str], Callable[[Decider, Decider], Decider]] = {
    ("OrExpression", "or"): _or,
    ("OrExpression", "xor"): _differs,
    ("AndExpression", "and"): _and,
    ("ImpliesExpression", "implies"): _implies,
    ("EqualityExpression", "="): _same,
    ("EqualityExpression", "!="): _differs,
}
