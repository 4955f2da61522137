"""Why the audit log refused: both are 503s, so the caller gets no data (issue 7)."""

from __future__ import annotations

from gateway.errors import ServiceUnavailable


class AuditUnavailable(ServiceUnavailable):
    """The audit entry could not be durably appended: the request must fail."""

    gateway_code = "GW-5004"


class AuditIntegrityError(ServiceUnavailable):
    """The stored log contradicts itself or its last checkpoint: nothing more is signed.

    An operator must run ``dmp-gateway audit verify`` and investigate.
    """

    gateway_code = "GW-5005"
