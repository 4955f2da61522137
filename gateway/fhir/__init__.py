"""Pure FHIR R4 helpers: JSON, structure, identifiers, references, bundles. No I/O."""
