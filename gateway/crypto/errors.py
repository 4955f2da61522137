"""The two ways reading sealed content can fail, as gateway errors (OperationOutcomes)."""

from __future__ import annotations

from gateway.errors import GatewayError, Gone


class ContentIntegrityError(GatewayError):
    """A ciphertext failed authentication: altered, truncated, or moved to another row.

    Never answered with data: a 500 whose code (GW-5090) operators can alert on.
    """

    status = 500
    issue_code = "exception"
    gateway_code = "GW-5090"


class ContentErased(Gone):
    """The content's data key was destroyed (crypto-shredding): it is gone for good."""

    gateway_code = "GW-3090"


class KeyUnavailable(GatewayError):
    """A key-encryption key named by a stored data key is not configured."""

    status = 500
    issue_code = "exception"
    gateway_code = "GW-5091"
