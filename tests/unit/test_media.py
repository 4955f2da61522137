from __future__ import annotations

import pytest

from gateway.api.media import body_kind, check_format, response_type
from gateway.errors import NotAcceptable, UnsupportedMediaType


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/fhir+json"),
        ("*/*", "application/fhir+json"),
        ("application/fhir+json", "application/fhir+json"),
        ("application/json", "application/json"),
        ("application/fhir+xml;q=0.9, application/fhir+json", "application/fhir+json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", "application/fhir+json"),
        ("application/fhir+json; fhirVersion=4.0", "application/fhir+json"),
        ('application/fhir+json; fhirversion="4.0.1"', "application/fhir+json"),
        ("application/fhir+json; fhirVersion=5.0, application/fhir+json", "application/fhir+json"),
        ("application/fhir+json; fhirVersion=5.0, */*;q=0.1", "application/fhir+json"),
    ],
)
def test_acceptable(accept: str | None, expected: str) -> None:
    assert response_type(accept) == expected


@pytest.mark.parametrize(
    "accept",
    [
        "application/fhir+xml",
        "application/xml",
        "text/xml",
        "application/fhir+json;q=0",
        "text/html",
    ],
)
def test_an_accept_without_json_is_406(accept: str) -> None:
    """RFC 9110 §15.5.7: what the client accepts is a 406; 415 is for what it sent."""
    with pytest.raises(NotAcceptable) as err:
        response_type(accept)
    assert err.value.code == "GW-1033"


@pytest.mark.parametrize(
    "accept",
    [
        "application/fhir+json; fhirVersion=5.0",
        "application/fhir+json; fhirVersion=3.0, application/json; fhirVersion=4.3",
        "application/fhir+json;fhirVersion=4.01",
    ],
)
def test_only_another_fhir_version_is_406_naming_it(accept: str) -> None:
    with pytest.raises(NotAcceptable) as err:
        response_type(accept)
    assert err.value.status == 406
    assert err.value.code == "GW-1017"
    assert accept.split("fhirVersion=")[1].split(",")[0] in err.value.diagnostics


@pytest.mark.parametrize("version", ["5.0", "3.0", "4.3"])
def test_a_body_in_another_fhir_version_is_415(version: str) -> None:
    with pytest.raises(UnsupportedMediaType) as err:
        body_kind(f"application/fhir+json; fhirVersion={version}", "POST")
    assert err.value.code == "GW-1018"
    assert version in err.value.diagnostics
    assert body_kind("application/fhir+json; fhirVersion=4.0", "POST") == "json"


def test_format_and_body_kinds() -> None:
    for ok in ("json", "application/fhir+json", None):
        check_format(ok)
    for bad in ("xml", "text/xml", "ttl"):
        with pytest.raises(UnsupportedMediaType):
            check_format(bad)
    assert body_kind("application/fhir+json; charset=utf-8", "POST") == "json"
    assert body_kind(None, "PUT") == "json"
    assert body_kind("application/json-patch+json", "PATCH") == "patch"
    assert body_kind("application/x-www-form-urlencoded", "POST", operation=True) == "form"
    for method in ("POST", "PUT"):  # a create's, an update's or a Bundle's body is a resource
        with pytest.raises(UnsupportedMediaType, match="x-www-form-urlencoded"):
            body_kind("application/x-www-form-urlencoded", method)
    with pytest.raises(UnsupportedMediaType):
        body_kind("application/json-patch+json", "PUT")
    with pytest.raises(UnsupportedMediaType):
        body_kind("text/plain", "POST")


def test_search_body_is_form_or_empty() -> None:
    from gateway.api.media import search_body_is_form

    assert search_body_is_form("application/x-www-form-urlencoded; charset=utf-8", b"a=1")
    assert search_body_is_form("application/x-www-form-urlencoded", b"")
    assert not search_body_is_form(None, b"")
    assert not search_body_is_form("application/fhir+json", b" ")
    for content_type in ("application/fhir+json", "text/plain", None):
        with pytest.raises(UnsupportedMediaType, match="x-www-form-urlencoded"):
            search_body_is_form(content_type, b'{"name": "zzz"}')
