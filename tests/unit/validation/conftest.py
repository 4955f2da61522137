"""Shared fixtures: one validator over the repository's ``profiles/``, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.validation import Validator

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def profiles_dir() -> Path:
    return REPO / "profiles"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return REPO / "fixtures" / "validation"


@pytest.fixture(scope="session")
def validator(profiles_dir: Path) -> Validator:
    return Validator.load(profiles_dir)
