"""Cryptography at rest (issue 9): pure primitives, no I/O beyond reading key files."""
