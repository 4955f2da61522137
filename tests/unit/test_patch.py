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
