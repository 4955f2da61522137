"""Shared fixtures of the policy tests: the shipped matrix and resource classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy import Policy, ResourceClasses, load_matrix, load_resource_classes
from gateway.policy.matrix import AccessMatrix

PROFILES = Path(__file__).resolve().parents[3] / "profiles"

# The document type -> class table of DOMAIN.md §4 (the real one is the TRE_A03 ConceptMap
# another helper ships); "patient-upload" is a test-only code for class 90.
DOCUMENT_TYPES = {
    "http://loinc.org|34112-3": "10",
    "http://loinc.org|11490-0": "10",
    "http://loinc.org|11488-4": "10",
    "http://loinc.org|11502-2": "10",
    "http://loinc.org|11506-3": "10",
    "http://loinc.org|60591-5": "11",
    "http://loinc.org|56445-0": "11",
    "http://loinc.org|88348-8": "11",
    "http://loinc.org|57833-6": "42",
    "http://loinc.org|57832-8": "42",
    "http://loinc.org|60593-1": "43",
    "http://loinc.org|18776-5": "44",
    "http://loinc.org|80788-3": "44",
    "http://loinc.org|80565-5": "45",
    "http://loinc.org|87273-9": "52",
    "patient-upload": "90",
}


@pytest.fixture(scope="session")
def matrix() -> AccessMatrix:
    return load_matrix(PROFILES / "access-matrix.yaml")


@pytest.fixture(scope="session")
def classes(matrix: AccessMatrix) -> ResourceClasses:
    return load_resource_classes(
        PROFILES / "resource-classes.yaml", DOCUMENT_TYPES, frozenset(matrix.classes)
    )


@pytest.fixture(scope="session")
def policy(matrix: AccessMatrix) -> Policy:
    return Policy(matrix)
