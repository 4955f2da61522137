from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import BadRequest, GatewayError, PayloadTooLarge
from gateway.fhir.json import dumps, loads, loads_stored


def test_decimals_keep_their_written_precision() -> None:
    value = loads(b'{"value": 7.40, "n": 3, "tiny": 0.000100, "big": 1E+3}')
    assert value["value"] == Decimal("7.40")
    assert isinstance(value["n"], int)
    assert dumps(value) == b'{"value":7.40,"n":3,"tiny":0.000100,"big":1E+3}'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{bad", "line 1, column 2"),
        (b'{"a": 1,}', "line 1"),
        (b'{"a": NaN}', "NaN is not valid JSON"),
        (b"\xff\xfe", "not valid UTF-8"),
    ],
)
def test_malformed_json_is_a_located_400(body: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest) as err:
        loads(body)
    assert fragment in err.value.diagnostics


def test_depth_limit() -> None:
    deep = b"[" * 65 + b"]" * 65
    with pytest.raises(BadRequest, match="deeper than the limit of 64"):
        loads(deep)
    assert loads(b"[" * 64 + b"]" * 64, max_depth=64) is not None


def test_depth_beyond_the_interpreter_recursion_limit_is_a_400() -> None:
    with pytest.raises(BadRequest):
        loads(b"[" * 100_000 + b"]" * 100_000)


def test_container_and_string_limits_are_413() -> None:
    with pytest.raises(PayloadTooLarge):
        loads(b"[" + b",".join([b"1"] * 101) + b"]", max_items=100)
    with pytest.raises(PayloadTooLarge):
        loads(b'{"a": "' + b"x" * 2000 + b'"}', max_string=1024)


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(data: bytes) -> None:
    try:
        loads(data)
    except GatewayError as exc:
        assert exc.status in (400, 413)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_round_trip_is_exact(value: object) -> None:
    assert loads(dumps(value)) == value


@pytest.mark.parametrize(
    ("body", "limits", "code"),
    [
        (b"{bad", {}, "GW-1021"),
        (b'{"a": NaN}', {}, "GW-1021"),
        (b"\xff\xfe", {}, "GW-1022"),
        (b"[[[1]]]", {"max_depth": 2}, "GW-1023"),
        (b"[1, 2, 3]", {"max_items": 2}, "GW-1024"),
        (b'["abcd"]', {"max_string": 3}, "GW-1025"),
        (b'{"a": 1, "a": 1}', {}, "GW-1026"),
    ],
)
def test_each_body_error_has_its_own_code_apart_from_search(
    body: bytes, limits: dict[str, Any], code: str
) -> None:
    """An unreadable body and a bad search parameter never share a stable code."""
    from gateway.search import problems

    search_codes = {v for k, v in vars(problems).items() if k.isupper() and isinstance(v, str)}
    with pytest.raises(GatewayError) as err:
        loads(body, **limits)
    assert err.value.code == code
    assert code not in search_codes


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"status": "final", "status": "cancelled"}', "status"),
        (b'{"code": {"text": "a", "coding": [], "text": "b"}}', "text"),
        (b'{"entry": [{"resource": {"id": "1"}}, {"resource": {"id": "2", "id": "3"}}]}', "id"),
        (b'{"a": 1, "b": 2, "c": 3, "b": 2}', "b"),
    ],
)
def test_an_object_naming_a_property_twice_is_a_400_naming_it(body: bytes, key: str) -> None:
    """Parsers disagree on which duplicate wins; the gateway takes neither."""
    with pytest.raises(BadRequest) as err:
        loads(body)
    assert err.value.code == "GW-1026"
    assert repr(key) in err.value.diagnostics


def test_a_duplicated_property_is_named_without_the_values() -> None:
    with pytest.raises(BadRequest) as err:
        loads(b'{"note": "secret A", "note": "secret B"}')
    assert "secret" not in err.value.diagnostics


def test_stored_content_is_read_without_the_duplicate_check() -> None:
    body = b'{"value": 7.40, "a": 1, "a": 2}'
    assert loads_stored(body) == {"value": Decimal("7.40"), "a": 2}
    assert loads(body, unique_keys=False)["a"] == 2


@given(json_values)
def test_documents_with_distinct_keys_pass_the_duplicate_check(value: object) -> None:
    assert loads(dumps(value), unique_keys=True) == value
