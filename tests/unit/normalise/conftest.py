"""Fixtures for the normaliser tests: the shipped ConceptMaps and a sample source."""

from __future__ import annotations

import pytest

from gateway.normalise import SourceConfig, Terminology


@pytest.fixture(scope="session")
def terminology() -> Terminology:
    return Terminology.load()


@pytest.fixture(scope="session")
def source() -> SourceConfig:
    # FINESS 750712184 (Luhn-valid, fictional use).
    return SourceConfig(source_id="ehpad-tilleuls", finess="750712184", name="EHPAD Les Tilleuls")
