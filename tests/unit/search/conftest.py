"""Shared fixtures for the search tests: the registry (loaded once) and sample data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.search import SearchRegistry

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def registry() -> SearchRegistry:
    return SearchRegistry.load(ROOT / "profiles")


@pytest.fixture(scope="session")
def synthea() -> list[dict[str, Any]]:
    bundle = json.loads((ROOT / "fixtures" / "search" / "synthea-sample.json").read_text())
    return [e["resource"] for e in bundle["entry"]]
