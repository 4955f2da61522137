"""Unit tests of gateway.audit (a package so the tests share audit_reference)."""
