"""The public validator: load the profiles once, validate any JSON resource, never raise.

::

    validator = Validator.load(Path("profiles"), default_profiles={"Patient": [GW_PATIENT]})
    issues = validator.validate(resource)                      # list[gateway.errors.Issue]
    issues = validator.validate(entry, bundle=BundleContext.from_bundle(bundle))
    outcome = operation_outcome(issues)

A resource is validated against its base type, the ``profiles`` asked for, its
``meta.profile`` and the per-type ``default_profiles`` (see
:mod:`gateway.validation.selection`); resources nested in it (contained, Bundle entries)
against their base type and their own ``meta.profile``. ``validate`` returns issues for
any input, however malformed; an internal failure becomes an ``exception`` issue rather
than an exception. Nothing is fetched from the network.

See https://hl7.org/fhir/R4/validation.html and
https://hl7.org/fhir/R4/resource-operation-validate.html.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.errors import Issue, Severity
from gateway.validation import report as rc
from gateway.validation.package import ConformanceIndex, canonical_url, type_url
from gateway.validation.references import BundleContext
from gateway.validation.registry import ProfileRegistry
from gateway.validation.report import Report
from gateway.validation.selection import ProfileChooser
from gateway.validation.walker import Walker


@dataclass(frozen=True, slots=True)
class Findings:
    """One validation's issues, and among them the ``structural`` errors: those the base
    definition of a type reports about the JSON shape, primitive forms and cardinalities
    (the resource is not well-formed FHIR R4, whatever profiles apply)."""

    issues: list[Issue]
    structural: list[Issue]


class Validator:
    """Profile validation over a loaded :class:`ProfileRegistry` (thread-safe to share)."""

    def __init__(
        self,
        registry: ProfileRegistry,
        *,
        default_profiles: Mapping[str, Sequence[str]] | None = None,
        strict_profiles: bool = False,
        best_practice: Severity | None = "information",
    ) -> None:
        self.registry = registry
        self.best_practice = best_practice
        self.default_profiles: dict[str, tuple[str, ...]] = {
            t: tuple(urls) for t, urls in (default_profiles or {}).items()
        }
        self.strict_profiles = strict_profiles
        self._chooser = ProfileChooser(registry, self.default_profiles, strict_profiles)
        self._check_defaults()

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        default_profiles: Mapping[str, Sequence[str]] | None = None,
        strict_profiles: bool = False,
        best_practice: Severity | None = "information",
    ) -> Validator:
        """Read every conformance resource below ``path`` (the only I/O this package does).

        Raises ``ValueError`` when a default profile is unknown or constrains another type:
        a configuration error should stop the start, not surface on every write.

        ``strict_profiles`` turns unknown profiles and extensions into errors;
        ``best_practice`` is the severity of failed best-practice invariants (such as dom-6,
        "a resource should have narrative"), ``None`` to drop them.
        """
        registry = ProfileRegistry(ConformanceIndex.load(path))
        return cls(
            registry,
            default_profiles=default_profiles,
            strict_profiles=strict_profiles,
            best_practice=best_practice,
        )

    def _check_defaults(self) -> None:
        for rtype, urls in self.default_profiles.items():
            for url in urls:
                profile = self.registry.profile(url)
                if profile is None:
                    why = self.registry.problems.get(canonical_url(url), "not held")
                    raise ValueError(f"default profile {url} for {rtype}: {why}")
                if profile.type != rtype:
                    raise ValueError(
                        f"default profile {url} constrains {profile.type}, not {rtype}"
                    )

    def validate(
        self,
        resource: dict[str, Any],
        profiles: Sequence[str] = (),
        *,
        bundle: BundleContext | None = None,
    ) -> list[Issue]:
        """Every issue found in ``resource``; an empty list means valid. Never raises."""
        return self.check(resource, profiles, bundle=bundle).issues

    def check(
        self,
        resource: dict[str, Any],
        profiles: Sequence[str] = (),
        *,
        bundle: BundleContext | None = None,
        base_only: bool = False,
    ) -> Findings:
        """Like :meth:`validate`, with the issues that make the input malformed FHIR R4
        told apart (:attr:`Findings.structural`). ``base_only`` walks the resource
        against its type's base definition only (no profile asked, claimed or
        configured), for a structural check. Never raises."""
        report = Report()
        try:
            self._validate(resource, profiles, bundle, report, base_only)
        except Exception as exc:  # the contract is to return issues, whatever the input
            report.in_base = True  # unreadable input is malformed until shown otherwise
            report.error(
                "exception",
                rc.STRUCTURE,
                f"The validator could not process this input ({type(exc).__name__}: {exc})",
                "",
            )
        return Findings(report.issues, report.structural())

    def _validate(
        self,
        resource: Any,
        profiles: Sequence[str],
        bundle: BundleContext | None,
        report: Report,
        base_only: bool = False,
    ) -> None:
        if not isinstance(resource, dict):
            report.error("structure", rc.STRUCTURE, "A resource must be a JSON object", "")
            return
        rtype = resource.get("resourceType")
        path = rtype if isinstance(rtype, str) and rtype in self.registry.resource_types else ""
        if isinstance(profiles, str):
            profiles = (profiles,)
        base = self.registry.profile(type_url(path)) if path and base_only else None
        if base is not None:
            chosen = [base]
        else:
            chosen = self._chooser.choose(resource, profiles, path, report, with_defaults=True)
        if not chosen:
            return
        if rtype == "Bundle" and bundle is None:
            bundle = BundleContext.from_bundle(resource)
        walker = Walker(
            self.registry, self._chooser, report, bundle, self.strict_profiles, self.best_practice
        )
        walker.resource(resource, chosen, path, root=True)

    def warm(self) -> list[str]:
        """Compile every profile now (instead of on first use); returns those that failed."""
        failed = []
        for sd in self.registry.index.of_type("StructureDefinition"):
            if sd.get("kind") == "logical":
                continue
            profile = self.registry.profile(str(sd["url"]))
            if profile is None:
                failed.append(str(sd["url"]))
                continue
            self.registry.root_shape(profile)
        return failed

    def knows_profile(self, url: str) -> bool:
        """Whether ``url`` names a profile we hold and can use (``$validate``'s ``profile``)."""
        return self.registry.profile(url) is not None
