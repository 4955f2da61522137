"""Content negotiation: JSON only (https://hl7.org/fhir/R4/http.html#mime-type).

XML is refused with 415 wherever it is asked for: ``_format``, ``Accept`` or the body's
``Content-Type``.
"""

from __future__ import annotations

from gateway.errors import UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
FORM = "application/x-www-form-urlencoded"

_JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}
_ACCEPTABLE = {"*/*", "application/*", "application/json", FHIR_JSON, "application/json+fhir"}


def check_format(value: str | None) -> None:
    """``_format``: json, or one of the JSON mime types."""
    if value is None:
        return
    if value.strip().lower().split(";")[0] not in _JSON_FORMATS:
        raise UnsupportedMediaType(
            f"_format={value} is not served: this server speaks FHIR JSON only",
            expression="_format",
            code="GW-1015",
        )


def response_type(accept: str | None) -> str:
    """The response media type for an ``Accept`` header; 415 when JSON is not acceptable."""
    if not accept:
        return FHIR_JSON
    offered = []
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        if _quality(params) > 0:
            offered.append(media.strip().lower())
    if any(m in _ACCEPTABLE for m in offered):
        return "application/json" if offered == ["application/json"] else FHIR_JSON
    raise UnsupportedMediaType(
        f"Accept: {accept} is not served: this server speaks FHIR JSON only",
        code="GW-1015",
    )


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def body_kind(content_type: str | None, method: str) -> str:
    """What the body is: 'json', 'patch' or 'form'; 415 for anything else."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("", "application/json", FHIR_JSON, "application/json+fhir"):
        return "json"
    if media == JSON_PATCH and method == "PATCH":
        return "patch"
    if media == FORM and method == "POST":
        return "form"
    raise UnsupportedMediaType(
        f"Content-Type {media} is not accepted: send {FHIR_JSON}"
        + (f" or {JSON_PATCH}" if method == "PATCH" else ""),
        code="GW-1015",
    )


def search_body_is_form(content_type: str | None, body: bytes) -> bool:
    """Whether a POST ``_search`` body holds form parameters; 415 for any other body.

    https://hl7.org/fhir/R4/http.html#search: the body is
    ``application/x-www-form-urlencoded``; an empty body (the parameters all in the URL)
    is fine whatever its Content-Type. Any other body is refused, never ignored: a JSON
    body's criteria would otherwise be dropped and the search answer unfiltered.
    """
    media = (content_type or "").split(";")[0].strip().lower()
    if media == FORM:
        return True
    if not body.strip():
        return False
    raise UnsupportedMediaType(
        f"Content-Type {media or 'none'} is not accepted for POST _search: send the "
        f"search parameters as {FORM}",
        code="GW-1015",
    )
