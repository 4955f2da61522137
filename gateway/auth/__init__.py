"""Authentication: registered clients, signed bearer tokens -> :class:`AccessContext`.

See :mod:`gateway.auth.verify` for the checks, :mod:`gateway.auth.claims` for the claim
names, :mod:`gateway.auth.registry` for the client registry file.
"""

from __future__ import annotations

from gateway.auth.claims import TokenRules
from gateway.auth.registry import (
    Client,
    ClientKey,
    ClientRegistry,
    RateLimit,
    RegistryError,
    load_registry,
    parse_client,
    parse_registry,
    registry_document,
)
from gateway.auth.rejection import REASONS, TokenReason, TokenRejected
from gateway.auth.replay import InMemoryReplayGuard, ReplayGuard
from gateway.auth.verify import verify

__all__ = [
    "REASONS",
    "Client",
    "ClientKey",
    "ClientRegistry",
    "InMemoryReplayGuard",
    "RateLimit",
    "RegistryError",
    "ReplayGuard",
    "TokenReason",
    "TokenRejected",
    "TokenRules",
    "load_registry",
    "parse_client",
    "parse_registry",
    "registry_document",
    "verify",
]
