"""A parser for the simple FHIRPath shapes that search parameter expressions use.

It recognises unions of paths (``A.b.c | A.d``), type casts (``A.b as T``,
``A.b.as(T)``, ``A.b.ofType(T)``), index selection (``A.b[0]``), ``first()``,
``extension('url')`` and the filters ``where(resolve() is T)``,
``where(field = 'literal')`` and ``where(hasExtension('url'))``. Anything else
raises :class:`Unsupported`, and the caller falls back to a full FHIRPath engine.
See https://hl7.org/fhirpath/N1/ and https://hl7.org/fhir/R4/fhirpath.html.

The result is a list of :class:`Branch`: a root (a type name, or ``None`` when the
path starts at the resource itself) and a tuple of :class:`Step`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Unsupported(Exception):
    """The expression is outside the compiled subset."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Cast:
    type: str


@dataclass(frozen=True, slots=True)
class Index:
    index: int


@dataclass(frozen=True, slots=True)
class ExtensionStep:
    url: str


@dataclass(frozen=True, slots=True)
class WhereResolve:
    type: str


@dataclass(frozen=True, slots=True)
class WhereEquals:
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class WhereHasExtension:
    url: str


Step = Field | Cast | Index | ExtensionStep | WhereResolve | WhereEquals | WhereHasExtension


@dataclass(frozen=True, slots=True)
class Branch:
    root: str | None
    steps: tuple[Step, ...]


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<num>\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>!=|[().|\[\]=,%]))"
)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"unexpected character at {pos} in {text!r}")
        out.append(m.group(m.lastgroup or "op"))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise Unsupported(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def ident(self) -> str:
        tok = self.take()
        if not (tok[0].isalpha() or tok[0] == "_"):
            raise Unsupported(f"expected a name, got {tok!r}")
        return tok

    def string(self) -> str:
        tok = self.take()
        if not tok.startswith("'"):
            raise Unsupported(f"expected a string, got {tok!r}")
        return tok[1:-1].replace("\\'", "'")

    # union := cast ('|' cast)*
    def union(self) -> list[tuple[str | None, list[Step]]]:
        branches = self.cast()
        while self.peek() == "|":
            self.take()
            branches += self.cast()
        return branches

    # cast := term ('as' TypeName)?
    def cast(self) -> list[tuple[str | None, list[Step]]]:
        branches = self.term()
        if self.peek() == "as":
            self.take()
            type_name = self.ident()
            branches = [(root, [*steps, Cast(type_name)]) for root, steps in branches]
        return branches

    # term := primary postfix*
    def term(self) -> list[tuple[str | None, list[Step]]]:
        tok = self.peek()
        if tok == "(":
            self.take()
            branches = self.union()
            self.take(")")
        elif tok is not None and tok[0].isalpha():
            name = self.ident()
            if self.peek() == "(":
                branches = [(None, [self.function(name)])]
            elif name[0].isupper():
                branches = [(name, [])]
            else:
                branches = [(None, [Field(name)])]
        else:
            raise Unsupported(f"unexpected {tok!r}")
        while self.peek() in (".", "["):
            if self.take() == "[":
                index = self.take()
                if not index.isdigit():
                    raise Unsupported("non-literal index")
                self.take("]")
                step: Step = Index(int(index))
            else:
                name = self.ident()
                step = self.function(name) if self.peek() == "(" else Field(name)
            branches = [(root, [*steps, step]) for root, steps in branches]
        return branches

    def function(self, name: str) -> Step:
        self.take("(")
        step: Step
        if name in ("as", "ofType"):
            step = Cast(self.ident())
        elif name == "extension":
            step = ExtensionStep(self.string())
        elif name == "first":
            step = Index(0)
        elif name == "where":
            step = self.condition()
        else:
            raise Unsupported(f"function {name}()")
        self.take(")")
        return step

    def condition(self) -> Step:
        name = self.ident()
        if name == "resolve":
            self.take("(")
            self.take(")")
            self.take("is")
            return WhereResolve(self.ident())
        if name == "hasExtension":
            self.take("(")
            url = self.string()
            self.take(")")
            return WhereHasExtension(url)
        self.take("=")
        return WhereEquals(name, self.string())


def parse_path(expression: str) -> list[Branch]:
    """Parse ``expression`` into branches, or raise :class:`Unsupported`."""
    parser = _Parser(expression)
    branches = parser.union()
    if parser.peek() is not None:
        raise Unsupported(f"trailing {parser.peek()!r}")
    return [Branch(root, tuple(steps)) for root, steps in branches]
