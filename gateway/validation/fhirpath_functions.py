"""FHIRPath functions and type tests for the fast evaluator (:mod:`gateway.validation.fhirpath`).

Each function is a factory: given its compiled arguments, it returns a closure
``(focus, $this, env) -> collection``. Arguments of iteration functions (``where``,
``select``, ``all``, ``exists``) are evaluated on each item; ``combine``/``union``/
``intersect`` evaluate theirs on ``$this`` (FHIRPath "AnyAtRoot"). Whatever the JSON alone
cannot decide raises :class:`Unsupported`.

See http://hl7.org/fhirpath/N1/#functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.validation import fhirpath_values as fv
from gateway.validation.fhirpath_values import Unsupported


@dataclass(slots=True)
class Env:
    """Evaluation environment: FHIRPath's external constants and the context's type."""

    resource: Any
    root_resource: Any
    context: Any
    context_type: str | None = None


Coll = list[Any]
Node = Callable[[Coll, Coll, Env], Coll]  # (focus, $this, env) -> result
Expression = Callable[[Any, Env], Coll]


def distinct(items: Coll) -> Coll:
    out: Coll = []
    for item in items:
        if not any(fv.equal(item, seen) for seen in out):
            out.append(item)
    return out


_PRIMITIVE_TESTS: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "decimal": lambda v: fv.is_number(v),
}


def type_test(type_name: str) -> Callable[[Any, Env], bool]:
    """``is``/``as``/``ofType``: decided by ``resourceType``, or by the context's known type."""
    bare = type_name.rsplit(".", 1)[-1]

    def test(item: Any, env: Env) -> bool:
        if isinstance(item, dict) and "resourceType" in item:
            return bool(item["resourceType"] == bare)
        if item is env.context and env.context_type is not None:
            return env.context_type.lower() == bare.lower()
        if bare in _PRIMITIVE_TESTS and not isinstance(item, str | dict):
            return _PRIMITIVE_TESTS[bare](item)
        raise Unsupported(f"type test {type_name} on an untyped value")

    return test


Factory = Callable[[list[Node], list[dict[str, Any]]], Node]


def _no_args(fn: Callable[[Coll], Coll]) -> Factory:
    def factory(args: list[Node], raw: list[dict[str, Any]]) -> Node:
        if args:
            raise Unsupported("unexpected arguments")
        return lambda focus, this, env: fn(focus)

    return factory


def _string_fn(fn: Callable[[str, list[Any]], Any]) -> Factory:
    """A function of one string input and literal-ish arguments evaluated at ``$this``."""

    def factory(args: list[Node], raw: list[dict[str, Any]]) -> Node:
        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            if not focus:
                return []
            if len(focus) > 1 or not isinstance(focus[0], str):
                raise Unsupported("string function on a non-string")
            values = []
            for arg in args:
                v = arg(this, this, env)
                if len(v) != 1:
                    return []
                values.append(v[0])
            result = fn(focus[0], values)
            return [] if result is None else [result]

        return run

    return factory


def _iterate(kind: str) -> Factory:
    def factory(args: list[Node], raw: list[dict[str, Any]]) -> Node:
        (crit,) = args

        def run(focus: Coll, this: Coll, env: Env) -> Coll:
            if kind == "select":
                out: Coll = []
                for item in focus:
                    out.extend(crit([item], [item], env))
                return out
            hits = [fv.to_boolean(crit([item], [item], env)) for item in focus]
            if kind == "where":
                return [item for item, hit in zip(focus, hits, strict=True) if hit is True]
            if kind == "all":
                return [all(h is True for h in hits)]
            return [any(h is True for h in hits)]  # exists(criteria)

        return run

    return factory


def _exists(args: list[Node], raw: list[dict[str, Any]]) -> Node:
    if args:
        return _iterate("exists")(args, raw)
    return lambda focus, this, env: [bool(focus)]


def _at_root(combine: Callable[[Coll, Coll], Coll]) -> Factory:
    def factory(args: list[Node], raw: list[dict[str, Any]]) -> Node:
        (other,) = args
        return lambda focus, this, env: combine(focus, other(this, this, env))

    return factory


def _iif(args: list[Node], raw: list[dict[str, Any]]) -> Node:
    crit, then = args[0], args[1]
    otherwise = args[2] if len(args) > 2 else None

    def run(focus: Coll, this: Coll, env: Env) -> Coll:
        if fv.to_boolean(crit(focus, focus, env)) is True:
            return then(focus, focus, env)
        return otherwise(focus, focus, env) if otherwise else []

    return run


def _extension(args: list[Node], raw: list[dict[str, Any]]) -> Node:
    (url_node,) = args

    def run(focus: Coll, this: Coll, env: Env) -> Coll:
        url = url_node(this, this, env)
        out: Coll = []
        for item in focus:
            if not isinstance(item, dict):
                raise Unsupported("extension of a primitive")
            for ext in item.get("extension") or ():
                if isinstance(ext, dict) and url and ext.get("url") == url[0]:
                    out.append(ext)
        return out

    return run


def _of_type(args: list[Node], raw: list[dict[str, Any]]) -> Node:
    test = type_test(raw[0].get("text", ""))
    return lambda focus, this, env: [i for i in focus if test(i, env)]


def _is_fn(args: list[Node], raw: list[dict[str, Any]]) -> Node:
    test = type_test(raw[0].get("text", ""))

    def run(focus: Coll, this: Coll, env: Env) -> Coll:
        if not focus:
            return []
        if len(focus) > 1:
            raise Unsupported("is() on a collection")
        return [test(focus[0], env)]

    return run


def _trace(args: list[Node], raw: list[dict[str, Any]]) -> Node:
    return lambda focus, this, env: focus


def _children(focus: Coll) -> Coll:
    out: Coll = []
    for item in focus:
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "resourceType":
                    continue
                if key.startswith("_"):
                    raise Unsupported("children() with primitive extensions")
                if isinstance(value, list):
                    out.extend(v for v in value if v is not None)
                else:
                    out.append(value)
    return out


def _descendants(focus: Coll) -> Coll:
    out: Coll = []
    level = _children(focus)
    while level:
        out.extend(level)
        level = _children(level)
    return out


def _has_value(focus: Coll) -> Coll:
    return [len(focus) == 1 and not isinstance(focus[0], dict)]


def _not(focus: Coll) -> Coll:
    b = fv.to_boolean(focus)
    return [] if b is None else [not b]


def _is_distinct(focus: Coll) -> Coll:
    return [len(distinct(focus)) == len(focus)]


def _to_integer(focus: Coll) -> Coll:
    if len(focus) != 1:
        return []
    v = focus[0]
    if isinstance(v, bool):
        return [int(v)]
    if isinstance(v, int):
        return [v]
    if isinstance(v, str) and re.fullmatch(r"[+-]?\d+", v):
        return [int(v)]
    return []


def _substring(s: str, args: list[Any]) -> Any:
    start = args[0]
    if not isinstance(start, int) or start < 0 or start >= len(s):
        return None
    if len(args) > 1:
        return s[start : start + args[1]]
    return s[start:]


def _regex(s: str, args: list[Any]) -> bool:
    return re.search(str(args[0]), s, re.DOTALL) is not None


FUNCTIONS: dict[str, Factory] = {
    "exists": _exists,
    "empty": _no_args(lambda c: [not c]),
    "not": _no_args(_not),
    "count": _no_args(lambda c: [len(c)]),
    "hasValue": _no_args(_has_value),
    "first": _no_args(lambda c: c[:1]),
    "last": _no_args(lambda c: c[-1:]),
    "tail": _no_args(lambda c: c[1:]),
    "isDistinct": _no_args(_is_distinct),
    "distinct": _no_args(distinct),
    "children": _no_args(_children),
    "descendants": _no_args(_descendants),
    "toInteger": _no_args(_to_integer),
    "toString": _no_args(lambda c: [fv.to_string(c[0])] if len(c) == 1 else []),
    "length": _no_args(lambda c: [len(c[0])] if len(c) == 1 and isinstance(c[0], str) else []),
    "where": _iterate("where"),
    "select": _iterate("select"),
    "all": _iterate("all"),
    "iif": _iif,
    "extension": _extension,
    "ofType": _of_type,
    "is": _is_fn,
    "as": _of_type,
    "trace": _trace,
    "combine": _at_root(lambda a, b: a + b),
    "union": _at_root(lambda a, b: distinct(a + b)),
    "intersect": _at_root(lambda a, b: distinct([x for x in a if any(fv.equal(x, y) for y in b)])),
    "startsWith": _string_fn(lambda s, a: s.startswith(str(a[0]))),
    "endsWith": _string_fn(lambda s, a: s.endswith(str(a[0]))),
    "contains": _string_fn(lambda s, a: str(a[0]) in s),
    "matches": _string_fn(_regex),
    "substring": _string_fn(_substring),
}
