"""Which profiles a resource is validated against.

The resource's base type, every profile the caller asks for, every ``meta.profile`` the
resource claims and the per-type defaults from configuration. A profile we do not hold is
a warning (an error in strict-profiles mode): it is never fetched. A profile of another
type is an error. A profile that another chosen profile derives from is dropped, since the
derived snapshot already carries all its rules (so the base type is validated once).

See https://hl7.org/fhir/R4/resource.html#Meta (meta.profile: "claims to conform").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.errors import Severity
from gateway.validation import report as rc
from gateway.validation.compiler import CompiledProfile
from gateway.validation.package import type_url
from gateway.validation.registry import ProfileRegistry
from gateway.validation.report import Report


class ProfileChooser:
    def __init__(
        self,
        registry: ProfileRegistry,
        defaults: Mapping[str, Sequence[str]],
        strict_profiles: bool,
    ) -> None:
        self.registry = registry
        self.defaults = defaults
        self.strict_profiles = strict_profiles

    def choose(
        self,
        resource: Mapping[str, Any],
        requested: Sequence[str],
        path: str,
        out: Report,
        *,
        with_defaults: bool = False,
    ) -> list[CompiledProfile]:
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or rtype not in self.registry.resource_types:
            what = f"unknown resourceType {rtype!r}" if rtype is not None else "no resourceType"
            out.error("structure", rc.STRUCTURE, f"Not a FHIR R4 resource: {what}", path, True)
            return []
        base = self.registry.profile(type_url(rtype))
        if base is None:
            out.error("not-found", rc.PROFILE, f"The definition of {rtype} is not held", path)
            return []
        chosen = [base]
        meta = resource.get("meta")
        claimed = meta.get("profile") if isinstance(meta, dict) else None
        urls = [*requested, *(claimed if isinstance(claimed, list) else ())]
        if with_defaults:
            urls.extend(self.defaults.get(rtype, ()))
        for url in urls:
            if not isinstance(url, str):
                continue  # the walk reports a malformed meta.profile
            profile = self.registry.profile(url)
            if profile is None:
                why = self.registry.problems.get(url.partition("|")[0])
                severity: Severity = "error" if self.strict_profiles else "warning"
                out.add(
                    severity,
                    "not-found",
                    rc.PROFILE,
                    f"Profile {url} is unknown{f' ({why})' if why else ''}; "
                    "the resource was not validated against it",
                    path,
                )
            elif profile.type != rtype:
                out.error(
                    "processing",
                    rc.PROFILE,
                    f"Profile {url} constrains {profile.type}, not {rtype}",
                    path,
                )
            else:
                chosen.append(profile)
        return _most_derived(chosen)


def _most_derived(profiles: list[CompiledProfile]) -> list[CompiledProfile]:
    out: list[CompiledProfile] = []
    for p in profiles:
        if any(p.url == q.url for q in out):
            continue
        if any(p.url in q.ancestors for q in profiles):
            continue
        out.append(p)
    return out
