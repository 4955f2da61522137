"""Shared fixtures of the auth tests: demo clients with fresh keys, a fixed clock."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.auth import ClientRegistry, demo, parse_registry
from gateway.auth.dev import client_entry, generate_private_jwk, public_jwk

Keys = dict[str, dict[str, Any]]


@pytest.fixture(scope="session")
def keys() -> Keys:
    """Private JWKs by name; "stranger" is never registered but reuses a registered kid."""
    return {
        "vendor_ed": generate_private_jwk("Ed25519", kid="vendor-ed"),
        "vendor_es": generate_private_jwk("ES256", kid="vendor-es"),
        "ehpad": generate_private_jwk("Ed25519", kid="ehpad-ed"),
        "auditor": generate_private_jwk("ES256", kid="auditor-es"),
        "admin": generate_private_jwk("Ed25519", kid="admin-ed"),
        "stranger": generate_private_jwk("Ed25519", kid="vendor-ed"),
    }


@pytest.fixture(scope="session")
def registry(keys: Keys) -> ClientRegistry:
    return parse_registry(
        {
            "clients": [
                client_entry(
                    "vendor", name="Vendor software", role="vendor",
                    structures=[demo.HOSPITAL, demo.PHARMACY, demo.SAMU],
                    public_keys=[public_jwk(keys["vendor_ed"]), public_jwk(keys["vendor_es"])],
                ),
                client_entry(
                    "ehpad", name="EHPAD software", role="ehpad", structures=[demo.EHPAD],
                    public_keys=[public_jwk(keys["ehpad"])], group=demo.EHPAD_GROUP,
                ),
                client_entry(
                    "audit-tool", name="Audit tool", role="auditor", structures=[demo.HOSPITAL],
                    public_keys=[public_jwk(keys["auditor"])],
                ),
                client_entry(
                    "ops", name="Operations", role="admin", structures=[],
                    public_keys=[public_jwk(keys["admin"])],
                ),
            ]
        }
    )  # fmt: skip
