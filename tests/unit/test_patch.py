from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import BadRequest, Unprocessable
from gateway.fhir.patch import apply_json_patch

PATIENT = {"resourceType": "Patient", "id": "p", "gender": "female", "name": [{"family": "A"}]}


def test_apply_does_not_touch_the_input() -> None:
    out = apply_json_patch(PATIENT, [{"op": "replace", "path": "/gender", "value": "male"}])
    assert out["gender"] == "male"
    assert PATIENT["gender"] == "female"


@pytest.mark.parametrize(
    ("ops", "error"),
    [
        ({"op": "add"}, BadRequest),
        ([{"op": "jump", "path": "/x"}], BadRequest),
        ([{"op": "test", "path": "/gender", "value": "male"}], Unprocessable),
        ([{"op": "remove", "path": "/birthDate"}], Unprocessable),
        ([{"op": "replace", "path": "/id", "value": "q"}], Unprocessable),
        ([{"op": "replace", "path": "/resourceType", "value": "Group"}], Unprocessable),
    ],
)
def test_bad_patches(ops: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        apply_json_patch(PATIENT, ops)


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        (
            [{"op": "replace", "path": "/nope/x", "value": 1}],
            "operation 0 (replace): no member 'nope' at /nope/x",
        ),
        (
            [{"op": "test", "path": "/gender", "value": "male"}],
            "operation 0 (test): the value at /gender",
        ),
        (
            [
                {"op": "test", "path": "/gender", "value": "female"},
                {"op": "remove", "path": "/name/3"},
            ],
            "operation 1 (remove): no index 3 at /name/3",
        ),
        ([{"op": "copy", "from": "/x", "path": "/y"}], "operation 0 (copy): no member 'x' at /x"),
        ([{"op": "add", "path": "/gender/x", "value": 1}], "operation 0 (add): no member 'x'"),
        (
            [{"op": "replace", "path": "/name/first", "value": 1}],
            "'first' is not an array index at /name/first",
        ),
    ],
)
def test_errors_name_the_operation_and_path_not_the_resource(ops: Any, expected: str) -> None:
    with pytest.raises((BadRequest, Unprocessable)) as caught:
        apply_json_patch(PATIENT, ops)
    message = str(caught.value)
    assert expected in message
    for leaked in ("female", "'A'", "resourceType", "<class", "{"):
        assert leaked not in message
