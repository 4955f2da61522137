"""Content negotiation: JSON only (https://hl7.org/fhir/R4/http.html#mime-type), R4 only.

XML is refused wherever it is asked for: 415 through ``_format`` or the body's
``Content-Type``; an ``Accept`` that admits no JSON type (XML, ``text/html``) is 406
Not Acceptable (GW-1033, RFC 9110 §15.5.7: 415 is about what the client sent). The
``fhirVersion`` media-type parameter
(https://hl7.org/fhir/R4/versioning.html#mt-version) must name 4.0 when given: an
``Accept`` asking only for another version is 406 Not Acceptable (GW-1017), a body in
another version 415 (GW-1018). Without the parameter, R4 is meant.
"""

from __future__ import annotations

from gateway.errors import NotAcceptable, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
FORM = "application/x-www-form-urlencoded"

_JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}
_ACCEPTABLE = {"*/*", "application/*", "application/json", FHIR_JSON, "application/json+fhir"}
SERVED_VERSION = "4.0"


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
    """The response media type for an ``Accept`` header; 406 when JSON is not acceptable."""
    if not accept:
        return FHIR_JSON
    offered = []
    other_versions = []
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        if _quality(params) <= 0:
            continue
        version = _param(params, "fhirversion")
        if version is None or _served(version):
            offered.append(media.strip().lower())
        else:
            other_versions.append(version)
    if any(m in _ACCEPTABLE for m in offered):
        return "application/json" if offered == ["application/json"] else FHIR_JSON
    if other_versions and not offered:
        raise NotAcceptable(
            f"Accept asks for FHIR version {', '.join(other_versions)}: this server "
            f"serves FHIR {SERVED_VERSION} (R4) only",
            code="GW-1017",
        )
    raise NotAcceptable(
        f"Accept: {accept[:200]} admits no media type this server answers in: it speaks "
        f"FHIR JSON only ({FHIR_JSON} or application/json)",
        code="GW-1033",
    )


def _quality(params: str) -> float:
    value = _param(params, "q")
    if value is None:
        return 1.0
    try:
        return float(value)
    except ValueError:
        return 0.0


def _param(params: str, wanted: str) -> str | None:
    """A media-type parameter's value (names compared without case), quotes removed."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == wanted:
            return value.strip().strip('"')
    return None


def _served(version: str) -> bool:
    """4.0, or a 4.0.x technical version: https://hl7.org/fhir/R4/versioning.html#mt-version"""
    return version == SERVED_VERSION or version.startswith(SERVED_VERSION + ".")


def body_kind(content_type: str | None, method: str, *, operation: bool = False) -> str:
    """What the body is: 'json', 'patch' or 'form'; 415 for anything else.

    Form fields are parameters: an ``operation`` (``$name``) POST takes them (as a POST
    ``_search`` does, see :func:`search_body_is_form`); a create or a Bundle is a
    resource, and ``curl -d``'s form body there is refused for its media type, not read
    as an empty resource."""
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    version = _param(params, "fhirversion")
    if version is not None and not _served(version):
        raise UnsupportedMediaType(
            f"The body is FHIR version {version}: this server accepts FHIR "
            f"{SERVED_VERSION} (R4) only",
            code="GW-1018",
        )
    if media in ("", "application/json", FHIR_JSON, "application/json+fhir"):
        return "json"
    if media == JSON_PATCH and method == "PATCH":
        return "patch"
    if media == FORM and method == "POST" and operation:
        return "form"
    raise UnsupportedMediaType(
        f"Content-Type {media} is not accepted: send {FHIR_JSON}"
        + (f" or {JSON_PATCH}" if method == "PATCH" else "")
        + (
            " (curl -d sends a form: add -H 'Content-Type: application/fhir+json')"
            if media == FORM
            else ""
        ),
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
