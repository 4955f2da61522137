"""FHIR RESTful interactions as small handlers in a table, independent of the web framework.

Handlers take a :class:`~gateway.rest.request.FhirRequest` and the caller-bound
:class:`~gateway.record.repository.Repository` and return a
:class:`~gateway.rest.request.FhirResponse`. The HTTP layer and the batch/transaction
processor both dispatch through the same table (:mod:`gateway.rest.router`).
"""
