"""Fixtures for the ingestion tests."""

from __future__ import annotations

import pytest

from gateway.normalise import Terminology


@pytest.fixture(scope="session")
def terminology() -> Terminology:
    return Terminology.load()
