"""Shared state in Redis (when configured): the token replay cache, consent-cache
invalidation, rate limits. Every piece has a database or in-process fallback."""
