"""Publication and sync (issue 8): change feed, FHIR Subscriptions, Bulk Data export and
patient notices. See ``gateway/sync/README.md`` for the design and the contracts."""
