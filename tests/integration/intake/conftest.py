"""Fixtures for the intake integration tests: the feeding set-up on both back-ends."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.intake import Intake
from gateway.record.services import RecordServices
from gateway.search import SearchRegistry

from .support import ExtractIndexer, load_demo, new_intake


@pytest.fixture(scope="session")
def search_registry() -> SearchRegistry:
    return SearchRegistry.load(Path(__file__).resolve().parents[3] / "profiles")


@pytest.fixture
def feeding(services: RecordServices, search_registry: SearchRegistry) -> RecordServices:
    """Services with the search extraction indexer and the demo record loaded."""
    fed = replace(services, indexer=ExtractIndexer(search_registry))
    load_demo(fed)
    return fed


@pytest.fixture
def intake(feeding: RecordServices) -> Intake:
    return new_intake(feeding)
