"""Fixtures for the intake integration tests: the feeding set-up on both back-ends."""

from __future__ import annotations

import pytest

from gateway.intake import Intake
from gateway.record.services import RecordServices

from .support import load_demo, new_intake


@pytest.fixture
def feeding(services: RecordServices) -> RecordServices:
    """Services with the demo record loaded."""
    load_demo(services)
    return services


@pytest.fixture
def intake(feeding: RecordServices) -> Intake:
    return new_intake(feeding)
