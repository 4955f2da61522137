"""Profile validation: FHIR R4 resources checked against StructureDefinitions in ``profiles/``.

Public surface::

    from gateway.validation import BundleContext, Validator

    validator = Validator.load(Path("profiles"), default_profiles={...}, strict_profiles=False)
    issues: list[gateway.errors.Issue] = validator.validate(resource, profiles, bundle=...)

Pure: loading reads the profiles directory once; validation does no I/O and never raises.
"""

from __future__ import annotations

from gateway.validation.references import BundleContext
from gateway.validation.registry import ProfileRegistry
from gateway.validation.validator import Findings, Validator

__all__ = ["BundleContext", "Findings", "ProfileRegistry", "Validator"]
