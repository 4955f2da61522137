"""A fast FHIRPath evaluator for invariants: compiles a parse tree into Python closures.

``fhirpathpy`` interprets its parse tree and wraps every node it visits (about 60 µs for
``dataAbsentReason.empty() or value.empty()``). Invariants run on every element of every
resource, so we compile the subset that conformance invariants use into closures over the
raw JSON (a few µs). Anything outside the subset, or a value whose semantics the JSON
alone does not settle, raises :class:`Unsupported` *when reached*, and the caller falls
back to ``fhirpathpy`` for that evaluation; so the result is never a guess.

Supported: paths (with choice types and resource-type filters), ``$this``, ``%resource``,
``%rootResource``, ``%context``, ``%ucum``, ``%sct``, ``%loinc``, literals (string,
number, boolean, ``{}``), ``and or xor implies``, ``= != < <= > >= in contains``,
``| & + -``, ``is``/``as`` on resources and on the typed context, and the functions in
:data:`_FUNCTIONS`.

Parse trees come from ``fhirpathpy.parser``. See http://hl7.org/fhirpath/N1/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fhirpathpy.parser import parse as _fhirpathpy_parse

from gateway.validation import fhirpath_values as fv
from gateway.validation.fhirpath_functions import (
    FUNCTIONS,
    Coll,
    Env,
    Expression,
    Node,
    distinct,
    type_test,
)
from gateway.validation.fhirpath_values import Unsupported

__all__ = ["Env", "Expression", "Unsupported", "compile_expression", "parse"]


_MISSING = object()
_CONSTANTS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}


def parse(text: str) -> dict[str, Any]:
    """The ``fhirpathpy`` parse tree of ``text`` (raises on a syntax error)."""
    tree: dict[str, Any] = _fhirpathpy_parse(text)  # type: ignore[no-untyped-call]
    return tree


def compile_expression(
    text: str, choice_names: frozenset[str], type_names: frozenset[str]
) -> Expression:
    """Compile ``text``; raises :class:`Unsupported` if it uses a construct we never handle.

    ``choice_names`` are element names declared as ``name[x]`` somewhere in the model;
    ``type_names`` the FHIR type names that may suffix them (``valueQuantity``).
    """
    tree = parse(text)
    node = _Compiler(choice_names, type_names).expr(tree["children"][0])

    def run(context: Any, env: Env) -> Coll:
        start = [context]
        return node(start, start, env)

    return run


def presence_term(n: dict[str, Any]) -> tuple[str, bool] | None:
    """``(name, exists)`` when the parsed InvocationExpression ``n`` is ``name.exists()``
    or ``name.empty()`` on the context (``exists`` False for ``empty()``); None for any
    other form, and for a capitalised name (a type filter, not a member)."""
    term, call = n["children"]
    function = call["children"][0] if call.get("type") == "FunctionInvocation" else {}
    invocation = term["children"][0] if term.get("type") == "TermExpression" else {}
    if invocation.get("type") != "InvocationTerm" or len(function.get("children", ())) != 1:
        return None
    member = invocation["children"][0]
    fname = function["children"][0].get("text")
    if member.get("type") != "MemberInvocation" or fname not in ("exists", "empty"):
        return None
    name = str(member["children"][0]["text"]).strip("`")
    if name[:1].isupper():
        return None
    return name, fname == "exists"


class _Compiler:
    def __init__(self, choice_names: frozenset[str], type_names: frozenset[str]) -> None:
        self.choice_names = choice_names
        self.type_names = type_names

    # -- expressions -------------------------------------------------------------------
    def expr(self, n: dict[str, Any]) -> Node:
        kind = n["type"]
        handler = getattr(self, "_" + kind, None)
        if handler is None:
            raise Unsupported(f"FHIRPath construct {kind}")
        result: Node = handler(n)
        return result

    def _TermExpression(self, n: dict[str, Any]) -> Node:
        return self.expr(n["children"][0])

    def _ParenthesizedTerm(self, n: dict[str, Any]) -> Node:
        return self.expr(n["children"][0])

    def _InvocationTerm(self, n: dict[str, Any]) -> Node:
        return self.invocation(n["children"][0])

    def _LiteralTerm(self, n: dict[str, Any]) -> Node:
        lit = n["children"][0]
        kind, text = lit["type"], lit.get("text", "")
        value: Any
        if kind == "StringLiteral":
            value = _unescape(text[1:-1])
        elif kind == "NumberLiteral":
            value = float(text) if "." in text else int(text)
        elif kind == "BooleanLiteral":
            value = text == "true"
        elif kind == "NullLiteral":
            return lambda focus, this, env: []
        else:
            raise Unsupported(f"literal {kind}")
        constant = [value]
        return lambda focus, this, env: constant

    def _ExternalConstantTerm(self, n: dict[str, Any]) -> Node:
        name = n["children"][0]["children"][0].get("text", "").strip("`")
        if name == "resource":
            return lambda focus, this, env: [env.resource]
        if name == "rootResource":
            return lambda focus, this, env: [env.root_resource]
        if name == "context":
            return lambda focus, this, env: [env.context]
        if name in _CONSTANTS:
            constant = [_CONSTANTS[name]]
            return lambda focus, this, env: constant
        raise Unsupported(f"external constant %{name}")

    def _InvocationExpression(self, n: dict[str, Any]) -> Node:
        left = self.expr(n["children"][0])
        right = self.invocation(n["children"][1])
        general: Node = lambda focus, this, env: right(left(focus, this, env), this, env)  # noqa: E731
        return self.presence(n, general) or general

    def presence(self, n: dict[str, Any], general: Node) -> Node | None:
        """``name.exists()`` or ``name.empty()``: the commonest invariant term, fused.

        Where the context is one object whose member ``name`` holds one value, or is absent
        (and so is ``_name``), the answer needs no collection; anything else (arrays,
        ``null``, choice names, primitives with only an extension part…) is left to the
        general closure ``general``, so the two never disagree.
        """
        term = presence_term(n)
        if term is None or term[0] in self.choice_names:
            return None
        name, exists = term
        under = "_" + name

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            if len(focus) == 1:
                item = focus[0]
                if item.__class__ is dict:
                    value = item.get(name, _MISSING)
                    if value is _MISSING:
                        if under not in item:
                            return [not exists]
                    elif value is not None and value.__class__ is not list:
                        return [exists]
            return general(focus, this, env)

        return run

    def _IndexerExpression(self, n: dict[str, Any]) -> Node:
        base, index = self.expr(n["children"][0]), self.expr(n["children"][1])

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            items, at = base(focus, this, env), index(focus, this, env)
            if len(at) != 1 or not isinstance(at[0], int):
                raise Unsupported("index")
            return items[at[0] : at[0] + 1] if 0 <= at[0] < len(items) else []

        return run

    def _PolarityExpression(self, n: dict[str, Any]) -> Node:
        inner = self.expr(n["children"][0])
        if n["terminalNodeText"][0] == "+":
            return inner

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            v = inner(focus, this, env)
            if len(v) == 1 and fv.is_number(v[0]):
                return [-v[0]]
            if not v:
                return []
            raise Unsupported("negation")

        return run

    def _binary(self, n: dict[str, Any]) -> tuple[Node, Node, str]:
        a, b = (self.expr(c) for c in n["children"])
        return a, b, n["terminalNodeText"][0]

    def _EqualityExpression(self, n: dict[str, Any]) -> Node:
        a, b, op = self._binary(n)
        if op not in ("=", "!="):
            raise Unsupported(f"operator {op}")
        negate = op == "!="

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            x, y = a(focus, this, env), b(focus, this, env)
            if not x or not y:
                return []
            same = len(x) == len(y) and all(fv.equal(p, q) for p, q in zip(x, y, strict=True))
            return [same != negate]

        return run

    def _InequalityExpression(self, n: dict[str, Any]) -> Node:
        a, b, op = self._binary(n)
        test: Callable[[int], bool] = {
            "<": lambda c: c < 0,
            "<=": lambda c: c <= 0,
            ">": lambda c: c > 0,
            ">=": lambda c: c >= 0,
        }[op]

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            x, y = a(focus, this, env), b(focus, this, env)
            if not x or not y:
                return []
            if len(x) > 1 or len(y) > 1:
                raise Unsupported("comparison of collections")
            c = fv.compare(x[0], y[0])
            return [] if c is None else [test(c)]

        return run

    def _MembershipExpression(self, n: dict[str, Any]) -> Node:
        a, b, op = self._binary(n)
        item_side, coll_side = (a, b) if op == "in" else (b, a)

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            item, coll = item_side(focus, this, env), coll_side(focus, this, env)
            if not item:
                return []
            if len(item) > 1:
                raise Unsupported("membership of a collection")
            return [any(fv.equal(item[0], c) for c in coll)]

        return run

    def _UnionExpression(self, n: dict[str, Any]) -> Node:
        a, b, _ = self._binary(n)
        return lambda focus, this, env: distinct(a(focus, this, env) + b(focus, this, env))

    def _AdditiveExpression(self, n: dict[str, Any]) -> Node:
        a, b, op = self._binary(n)

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            x, y = a(focus, this, env), b(focus, this, env)
            if op == "&":
                return ["".join(fv.to_string(v) for v in (x[:1] + y[:1]))]
            if not x or not y:
                return []
            if len(x) > 1 or len(y) > 1:
                raise Unsupported("arithmetic on collections")
            p, q = x[0], y[0]
            if op == "+" and isinstance(p, str) and isinstance(q, str):
                return [p + q]
            if fv.is_number(p) and fv.is_number(q):
                return [p + q if op == "+" else p - q]
            raise Unsupported(f"{op} on these values")

        return run

    def _AndExpression(self, n: dict[str, Any]) -> Node:
        a, b, _ = self._binary(n)

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            x = fv.to_boolean(a(focus, this, env))
            if x is False:
                return [False]
            y = fv.to_boolean(b(focus, this, env))
            if y is False:
                return [False]
            return [True] if x and y else []

        return run

    def _OrExpression(self, n: dict[str, Any]) -> Node:
        a, b, op = self._binary(n)
        if op == "xor":

            def run_xor(focus: Coll, this: Coll, env: Env) -> Coll:
                x, y = fv.to_boolean(a(focus, this, env)), fv.to_boolean(b(focus, this, env))
                return [] if x is None or y is None else [x != y]

            return run_xor

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            x = fv.to_boolean(a(focus, this, env))
            if x is True:
                return [True]
            y = fv.to_boolean(b(focus, this, env))
            if y is True:
                return [True]
            return [False] if x is False and y is False else []

        return run

    def _ImpliesExpression(self, n: dict[str, Any]) -> Node:
        a, b, _ = self._binary(n)

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            x = fv.to_boolean(a(focus, this, env))
            if x is False:
                return [True]
            y = fv.to_boolean(b(focus, this, env))
            if y is True:
                return [True]
            if x is True:
                return [] if y is None else [False]
            return [] if y is None or y is False else [True]

        return run

    def _TypeExpression(self, n: dict[str, Any]) -> Node:
        inner = self.expr(n["children"][0])
        type_name = n["children"][1].get("text", "")
        test = type_test(type_name)
        if n["terminalNodeText"][0] == "is":

            def run_is(focus: Coll, this: Coll, env: Env) -> Coll:
                items = inner(focus, this, env)
                if not items:
                    return []
                if len(items) > 1:
                    raise Unsupported("is on a collection")
                return [test(items[0], env)]

            return run_is
        return lambda focus, this, env: [i for i in inner(focus, this, env) if test(i, env)]

    # -- invocations -------------------------------------------------------------------
    def invocation(self, n: dict[str, Any]) -> Node:
        kind = n["type"]
        if kind == "MemberInvocation":
            return self.member(n["children"][0]["text"].strip("`"))
        if kind == "ThisInvocation":
            return lambda focus, this, env: this
        if kind == "FunctionInvocation":
            fn = n["children"][0]
            name = fn["children"][0]["text"]
            params = fn["children"][1]["children"] if len(fn["children"]) > 1 else []
            return self.function(name, params)
        if kind == "TermExpression" or kind == "InvocationTerm":
            return self.expr(n)
        raise Unsupported(f"invocation {kind}")

    def member(self, name: str) -> Node:
        type_filter = name[:1].isupper()
        choice = name in self.choice_names
        suffixes = self.type_names
        under = "_" + name

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            out: Coll = []
            for item in focus:
                if not isinstance(item, dict):
                    if name in ("extension", "id"):
                        raise Unsupported("extension of a primitive")
                    continue
                if type_filter and item.get("resourceType") == name:
                    out.append(item)
                    continue
                value = item.get(name, _MISSING)
                if value is _MISSING and choice:
                    for key, v in item.items():
                        if key.startswith(name) and key[len(name) :] in suffixes:
                            value = v
                            break
                if value is _MISSING:
                    if under in item:
                        raise Unsupported("primitive with only an extension")
                    continue
                if isinstance(value, list):
                    out.extend(v for v in value if v is not None)
                elif value is not None:
                    out.append(value)
            return out

        return run

    def function(self, name: str, params: list[dict[str, Any]]) -> Node:
        factory = FUNCTIONS.get(name)
        if factory is None:
            label = name

            def unsupported(focus: Coll, this: Coll, env: Env) -> Coll:
                raise Unsupported(f"function {label}()")

            return unsupported
        compiled = [self.expr(p) for p in params]
        return factory(compiled, params)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), text)
