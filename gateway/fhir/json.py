"""FHIR JSON in and out, with decimal precision kept and nesting limits enforced.

FHIR decimals carry their precision (``1.50`` is not ``1.5``:
https://hl7.org/fhir/R4/json.html#primitive), so JSON numbers with a fraction or an
exponent are parsed as :class:`decimal.Decimal` and written back verbatim.

Parsing enforces limits on nesting depth, items per object or array and string
length, so a hostile body gets a 400 instead of exhausting the server. It also refuses
an object that names a property twice (``{"status": "final", "status": "cancelled"}``):
JSON parsers disagree on which one wins (RFC 8259 §4; I-JSON, RFC 7493 §2.3, forbids
them), so a record whose meaning depends on the parser is not accepted. Stored content,
written by :func:`dumps`, is read back without that check (``unique_keys=False``).

Stable codes of a body that cannot be read (search keeps GW-1100..GW-1111 for itself):

========  ============================================  ======
code      meaning                                       status
========  ============================================  ======
GW-1021   malformed JSON (or NaN, Infinity)              400
GW-1022   not UTF-8                                      400
GW-1023   nested deeper than the limit                   400
GW-1024   an object or array with too many items         413
GW-1025   a string longer than the limit                 413
GW-1026   an object that names a property twice          400
========  ============================================  ======
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from gateway.errors import BadRequest, PayloadTooLarge

_DUMP_OPTIONS = orjson.OPT_NON_STR_KEYS

MALFORMED_JSON = "GW-1021"
NOT_UTF8 = "GW-1022"
TOO_DEEP = "GW-1023"
TOO_MANY_ITEMS = "GW-1024"
TOO_LONG = "GW-1025"
DUPLICATE_KEY = "GW-1026"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f") if _plain(value) else str(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _plain(value: Decimal) -> bool:
    # Keep the written form of ordinary decimals ("7.40"); only NaN/inf are refused below.
    if not value.is_finite():
        raise TypeError("non-finite decimal")
    return -28 < value.as_tuple().exponent <= 0  # type: ignore[operator]


def dumps(value: Any) -> bytes:
    """Serialise FHIR JSON compactly (UTF-8 bytes), decimals verbatim."""
    return orjson.dumps(value, default=_default, option=_DUMP_OPTIONS)


def loads(
    data: bytes | str,
    *,
    max_depth: int = 64,
    max_items: int = 100_000,
    max_string: int = 8 * 1024 * 1024,
    unique_keys: bool = True,
) -> Any:
    """Parse JSON, turning decimals into ``Decimal``; raise a 400 naming the position.

    Raises :class:`BadRequest` for malformed JSON or a body nested deeper than
    ``max_depth``, and :class:`PayloadTooLarge` for a container with more than
    ``max_items`` items or a string longer than ``max_string`` characters. With
    ``unique_keys`` (the default, for anything a client sent), an object naming a
    property twice is a :class:`BadRequest` too.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(
                f"The body is not valid UTF-8 (byte {exc.start})", code=NOT_UTF8
            ) from None
    data = data.removeprefix("\ufeff")  # a UTF-8 byte-order mark is tolerated
    try:
        value = json.loads(
            data,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_object if unique_keys else None,
        )
    except _DuplicateKey as exc:
        raise BadRequest(
            f"A JSON object names the property {exc.key!r} more than once; FHIR JSON "
            "needs each property once",
            code=DUPLICATE_KEY,
        ) from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            code=MALFORMED_JSON,
        ) from None
    except RecursionError:
        raise BadRequest(
            f"JSON nested deeper than the limit of {max_depth} levels", code=TOO_DEEP
        ) from None
    except ValueError as exc:  # parse_constant refusal
        raise BadRequest(str(exc), code=MALFORMED_JSON) from None
    check_limits(value, max_depth=max_depth, max_items=max_items, max_string=max_string)
    return value


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)  # in C: the check costs one call and a length comparison
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key[:80])
            seen.add(key)
    return value


def loads_stored(data: bytes | str) -> Any:
    """Parse JSON this gateway wrote with :func:`dumps` (stored content, a response being
    pretty-printed): decimals kept, no client limits, no duplicate-property check."""
    return loads(data, max_depth=10_000, unique_keys=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def check_limits(value: Any, *, max_depth: int, max_items: int, max_string: int) -> None:
    """Walk containers iteratively (no recursion) and enforce the nesting limits."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BadRequest(
                f"JSON nested deeper than the limit of {max_depth} levels", code=TOO_DEEP
            )
        if isinstance(node, dict):
            items: Any = node.values()
            size = len(node)
        elif isinstance(node, list):
            items = node
            size = len(node)
        else:
            continue
        if size > max_items:
            raise PayloadTooLarge(
                f"A JSON object or array holds {size} items; the limit is {max_items}",
                code=TOO_MANY_ITEMS,
            )
        for item in items:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
            elif isinstance(item, str) and len(item) > max_string:
                raise PayloadTooLarge(
                    f"A JSON string is {len(item)} characters long; the limit is {max_string}",
                    code=TOO_LONG,
                )
