"""The public surface of gateway.search, pinned (other modules are internal)."""

from __future__ import annotations

import inspect

import gateway.search as search


def test_exported_members() -> None:
    assert sorted(search.__all__) == [
        "BlindIndex",
        "BoundParam",
        "DEFAULT_TZ",
        "IndexRows",
        "SearchLimits",
        "SearchRegistry",
        "SearchRequest",
        "blind_request",
        "compartments_of",
        "default_tz",
        "extract",
        "parse_search",
        "patient_of",
    ]
    for name in search.__all__:
        assert hasattr(search, name)


def test_signatures() -> None:
    assert str(inspect.signature(search.extract)) == (
        "(resource: 'dict[str, Any]', registry: 'SearchRegistry', *, "
        "tz: 'ZoneInfo | None' = None, only: 'frozenset[str] | None' = None, "
        "skip: 'frozenset[str]' = frozenset()) -> 'IndexRows'"
    )
    params = inspect.signature(search.parse_search).parameters
    assert list(params) == [
        "resource_type",
        "params",
        "registry",
        "lenient",
        "limits",
        "tz",
        "compartment",
        "reserved",
    ]
    assert params["lenient"].default is False
