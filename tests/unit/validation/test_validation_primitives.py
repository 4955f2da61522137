"""Primitive forms: base64Binary checked in linear time, exactly as its R4 regex says."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from gateway.validation.primitives import _regex_of, build_checkers

REPO = Path(__file__).resolve().parents[3]
BASE64_SD = json.loads(
    (REPO / "profiles/r4-core/StructureDefinition-base64Binary.json").read_text("utf-8")
)
STRING_SD = json.loads(
    (REPO / "profiles/r4-core/StructureDefinition-string.json").read_text("utf-8")
)
R4_BASE64 = re.compile(str(_regex_of(BASE64_SD)), re.ASCII)
CHECK = build_checkers([BASE64_SD, STRING_SD])


@given(st.text(alphabet="ABz09+/= \t\n\r\x0b\x0c\xa0é-", max_size=24))
def test_base64_verdicts_are_those_of_the_r4_regex(value: str) -> None:
    """Same verdict as the regex on every short string over a tricky alphabet (spaces
    inside a group, non-ASCII spaces, stray characters, partial groups)."""
    regex_ok = bool(value) and R4_BASE64.fullmatch(value) is not None
    assert (CHECK["base64Binary"](value) is None) == regex_ok


def test_a_document_over_1_mb_is_valid_base64_a_string_is_not() -> None:
    """FHIR caps strings at 1 MB, not base64Binary: a 3 MB scan is a valid attachment."""
    document = base64.b64encode(b"%PDF-1.4 " * 350_000).decode("ascii")
    assert len(document) > 3 * 1024 * 1024
    assert CHECK["base64Binary"](document) is None
    assert CHECK["base64Binary"](document[:-1]) is not None  # a partial group
    assert CHECK["base64Binary"](document[:1000] + "*" + document[1000:]) is not None
    problem = CHECK["string"]("x" * (1024 * 1024 + 1))
    assert problem == ("value", "is longer than 1 MB")
