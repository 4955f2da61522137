"""The configurable choices of the access policy, with the defaults of DOMAIN.md §3.

Every default is the conservative one; each field says where it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.policy.labels import add_months


@dataclass(frozen=True, slots=True)
class PolicyOptions:
    dev_mode: bool = False
    """The ``dev`` caller (``GATEWAY_AUTH=disabled``) is honoured only when this is set."""

    allow_masked_and_invisible: bool = False
    """DOMAIN.md §3.6: a document may not be MASQUE_PS and INVISIBLE_PATIENT "unless
    configured"."""

    require_patient_claim: bool = True
    """Choice: like the DMP's VIHF, a professional's token must name the patient (INS)
    before any clinical data is shown; searches across patients are impossible."""

    admin_reads_clinical: bool = False
    """Choice: administrators run the service and see no clinical content (hosting rules
    for health data); they see administrative, directory and conformance data."""

    centre15_professions: frozenset[str] = frozenset({"10"})
    """CSP L1111-17: centre-15 access is for the regulating *physician*."""

    centre15_roles: frozenset[str] = frozenset({"regulation"})
    """Choice (no source names a code): the token's ``role`` that marks the regulator."""

    centre15_structures: frozenset[str] = frozenset()
    """idNat_Struct of SAMU structures whose physicians count as regulators (optional)."""

    invisible_patient_notice_after: timedelta = timedelta(days=14)
    """CSP R1111-53 / DOMAIN.md §3.6: the patient is told at 2 weeks."""

    invisible_patient_lift_months: int = 1
    """CSP R1111-53 / DOMAIN.md §3.6: the label lifts by itself after 1 month."""

    tolerated_labels: frozenset[str] = frozenset()
    """``system|code`` labels that are ignored instead of failing closed."""

    def invisible_patient_schedule(self, created_at: datetime) -> tuple[datetime, datetime]:
        """When to tell the patient about an INVISIBLE_PATIENT document, and when the
        label lifts by itself (for the scheduled job)."""
        notice = created_at + self.invisible_patient_notice_after
        return notice, add_months(created_at, self.invisible_patient_lift_months)
