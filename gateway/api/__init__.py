"""The HTTP layer (FastAPI): adapts HTTP to FHIR interactions and back. Decides nothing."""
