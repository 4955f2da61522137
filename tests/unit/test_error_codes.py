"""The published list of the gateway's error codes matches the codes the sources use.

``profiles/gateway/CodeSystem-gateway-error.json`` is the CodeSystem of
``issue.details.coding`` (:data:`gateway.errors.ERROR_CODE_SYSTEM`) and of HL7 ERR-5.
Every ``GW-nnnn`` the sources use must be in it, and nothing else: the sources are
scanned below this test's own checkout (not an installed copy). The token rejection
reasons (:mod:`gateway.auth.rejection`) build their ``GW-21nn`` codes from a number, so
they are taken from :data:`~gateway.auth.rejection.REASONS`; any other code built at run
time would escape the scan, hence :func:`test_no_other_code_is_built_at_run_time`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.codesystem import CodeSystem

import gateway.auth.rejection
import gateway.crypto.errors
import gateway.errors
import gateway.storage.audit_errors
from gateway.auth.rejection import REASONS
from gateway.errors import ERROR_CODE_SYSTEM, GatewayError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "gateway"
PATH = ROOT / "profiles" / "gateway" / "CodeSystem-gateway-error.json"

CODE = re.compile(r"\bGW-\d{4}\b")
#: A code assembled at run time (``f"GW-{2100 + n}"``, ``"GW-" + …``).
BUILT = re.compile(r"""f["']GW-\{|["']GW-["']\s*\+|["']GW-%""")
BUILDERS = {"gateway/auth/rejection.py"}

HTTP_STATUS = "http-status"


def _resource() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))
    return data


def _concepts() -> list[dict[str, Any]]:
    concepts: list[dict[str, Any]] = _resource()["concept"]
    return concepts


def _status(concept: dict[str, Any]) -> int | None:
    for prop in concept.get("property", []):
        if prop["code"] == HTTP_STATUS:
            value: int = prop["valueInteger"]
            return value
    return None


def _sources() -> list[Path]:
    files = sorted(SOURCES.rglob("*.py"))
    assert len(files) > 50, f"no gateway sources found below {SOURCES}"
    return files


def _literal_codes() -> dict[str, list[str]]:
    """Each ``GW-nnnn`` written in a source file → the files that use it."""
    found: dict[str, list[str]] = {}
    for path in _sources():
        for code in sorted(set(CODE.findall(path.read_text(encoding="utf-8")))):
            found.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return found


def _used_codes() -> set[str]:
    return set(_literal_codes()) | {reason.gateway_code for reason in REASONS.values()}


def _published() -> dict[str, dict[str, Any]]:
    return {c["code"]: c for c in _concepts()}


def test_the_checkout_under_test_is_the_one_imported() -> None:
    # The class and reason checks below read imported modules; the code scan reads files.
    # Both must be the same tree, or a stale install would hide (or invent) a difference.
    assert Path(gateway.errors.__file__).resolve().is_relative_to(SOURCES)
    assert Path(gateway.auth.rejection.__file__).resolve().is_relative_to(SOURCES)


def test_every_code_in_the_sources_is_published() -> None:
    literal = _literal_codes()
    assert len(literal) > 100  # the scan found the sources' codes at all
    missing = {
        code: literal.get(code, ["gateway/auth/rejection.py (REASONS)"])
        for code in sorted(_used_codes() - set(_published()))
    }
    assert not missing, f"codes used in gateway/ but absent from {PATH.name}: {missing}"


def test_every_published_code_is_used() -> None:
    stale = sorted(set(_published()) - _used_codes())
    assert not stale, f"codes in {PATH.name} that gateway/ no longer uses: {stale}"


def test_no_other_code_is_built_at_run_time() -> None:
    builders = {
        str(path.relative_to(ROOT))
        for path in _sources()
        if BUILT.search(path.read_text(encoding="utf-8"))
    }
    assert builders == BUILDERS, (
        "a GW- code is assembled at run time outside the known builders: read its codes "
        "into this test (as REASONS) so that the CodeSystem check sees them"
    )


def test_token_reasons_have_distinct_codes() -> None:
    codes = [reason.gateway_code for reason in REASONS.values()]
    assert len(codes) == len(set(codes)) > 20
    assert all(CODE.fullmatch(code) for code in codes)


def test_it_is_a_valid_r4_codesystem() -> None:
    resource = _resource()
    model = CodeSystem.model_validate(resource)
    assert model.url == ERROR_CODE_SYSTEM
    assert model.id == "gateway-error"
    assert ERROR_CODE_SYSTEM.endswith("/" + model.id)
    assert model.status == "active"
    assert model.content == "complete"
    assert model.caseSensitive is True
    assert model.name and model.title and model.description
    assert model.concept is not None
    assert len(model.concept) == len(resource["concept"])


def test_count_matches_and_codes_are_unique_and_sorted() -> None:
    resource = _resource()
    codes = [c["code"] for c in resource["concept"]]
    assert resource["count"] == len(codes)
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    assert not duplicates, f"codes listed twice: {duplicates}"
    assert codes == sorted(codes), "concepts must be sorted by code"
    assert all(CODE.fullmatch(code) for code in codes)


def test_the_http_status_property_is_declared_as_an_integer() -> None:
    declared = {p["code"]: p for p in _resource()["property"]}
    assert declared[HTTP_STATUS]["type"] == "integer"
    for concept in _concepts():
        assert concept["display"].strip(), concept["code"]
        assert concept["definition"].strip(), concept["code"]
        for prop in concept.get("property", []):
            assert prop["code"] in declared, (concept["code"], prop["code"])
            if prop["code"] == HTTP_STATUS:
                assert set(prop) == {"code", "valueInteger"}, concept["code"]
                assert 200 <= prop["valueInteger"] <= 599, concept["code"]


#: The modules that define GatewayError subclasses (kept fixed so that collection does not
#: depend on what other tests imported; :func:`test_every_error_module_is_listed` checks it).
ERROR_MODULES = (
    gateway.errors,
    gateway.crypto.errors,
    gateway.storage.audit_errors,
    gateway.auth.rejection,
)
SUBCLASS = re.compile(r"^class (\w+)\((\w+)\):", re.MULTILINE)


def _error_classes() -> list[type[GatewayError]]:
    """GatewayError and every subclass the gateway defines (errors.py and elsewhere)."""
    found: list[type[GatewayError]] = []
    for module in ERROR_MODULES:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, GatewayError)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


ERROR_CLASSES = _error_classes()


def test_every_class_of_gateway_errors_is_checked() -> None:
    names = {c.__name__ for c in ERROR_CLASSES}
    assert {"GatewayError", "BadRequest", "NotAcceptable", "ServiceUnavailable"} <= names
    assert {"AuditUnavailable", "ContentErased", "KeyUnavailable", "TokenRejected"} <= names


def test_every_error_module_is_listed() -> None:
    """A GatewayError subclass defined in another module must be added to ERROR_MODULES."""
    names = {c.__name__ for c in ERROR_CLASSES}
    listed = {Path(m.__file__ or "").resolve() for m in ERROR_MODULES}
    elsewhere = [
        f"{path.relative_to(ROOT)}: {name}({base})"
        for path in _sources()
        if path.resolve() not in listed
        for name, base in SUBCLASS.findall(path.read_text(encoding="utf-8"))
        if base in names
    ]
    assert not elsewhere, f"GatewayError subclasses outside ERROR_MODULES: {elsewhere}"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_each_error_class_default_code_is_published_with_its_status(
    cls: type[GatewayError],
) -> None:
    concept = _published().get(cls.gateway_code)
    assert concept is not None, f"{cls.__name__}.gateway_code {cls.gateway_code} is not published"
    assert _status(concept) == cls.status, (
        f"{cls.gateway_code} is published with http-status {_status(concept)}, "
        f"but {cls.__name__}.status is {cls.status}"
    )


def test_token_rejections_are_published_as_401() -> None:
    published = _published()
    wrong = {
        reason.gateway_code: _status(published[reason.gateway_code])
        for reason in REASONS.values()
        if reason.gateway_code in published
        and _status(published[reason.gateway_code]) != gateway.auth.rejection.TokenRejected.status
    }
    assert not wrong, f"token rejection codes not published as 401: {wrong}"
