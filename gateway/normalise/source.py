"""The per-client facts a parser needs: who the source is and its identifier systems.

A *source* is one sending system registered with the gateway (a pharmacy's software,
an EHPAD's care record, a hospital's interface engine). It is identified by the FINESS
of its establishment; its local identifiers (patient ids, order numbers, visit
numbers…) are only unique within it, so each kind of local identifier gets a
``system`` of its own derived from the FINESS (DOMAIN.md §1, "each source's local ids
→ a system per source"), unless the client's configuration gives one explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.fhir.identifiers import idnat_struct_from_finess, is_valid_finess

#: Root of the identifier systems the gateway mints for local identifiers.
GATEWAY_SID = "https://dmp-gateway.fr/fhir/sid/finess"

#: tdDUI's system for a medico-social local patient id, value ``3`` + FINESS + ``/`` + id
#: (ansforge/IG-fhir-medicosocial-transfert-donnees-dui, RuleSet TDDUIPatientIdSlices).
TDDUI_LOCAL_PATIENT_SYSTEM = "https://identifiant-medicosocial-localusager.esante.gouv.fr"


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One registered source.

    - ``source_id``: the client id the source authenticates with;
    - ``finess``: the 9-character FINESS of its establishment (key checked);
    - ``name``: a display name for its Organization;
    - ``system_base``: overrides the root of its local identifier systems
      (default ``https://dmp-gateway.fr/fhir/sid/finess/<FINESS>``);
    - ``patient_id_authorities``: HL7 assigning-authority namespaces or OIDs (CX-4) whose
      ids are this source's local patient ids; empty means every PI/MR identifier;
    - ``tddui_local_ids``: also emit tdDUI's local patient identifier (medico-social).
    """

    source_id: str
    finess: str
    name: str = ""
    system_base: str | None = None
    patient_id_authorities: frozenset[str] = field(default_factory=frozenset)
    tddui_local_ids: bool = False

    def __post_init__(self) -> None:
        if not is_valid_finess(self.finess):
            raise ValueError(f"source {self.source_id!r}: {self.finess!r} is not a valid FINESS")
        if not self.source_id:
            raise ValueError("source_id must not be empty")

    @property
    def base(self) -> str:
        return (self.system_base or f"{GATEWAY_SID}/{self.finess}").rstrip("/")

    def system(self, kind: str) -> str:
        """The identifier system of this source's local ``kind`` ids (``patient``, ``order``…)."""
        return f"{self.base}/{kind}"

    @property
    def patient_system(self) -> str:
        return self.system("patient")

    @property
    def idnat_struct(self) -> str:
        return idnat_struct_from_finess(self.finess)

    def owns_authority(self, namespace: str, universal_id: str) -> bool:
        """True when a CX-4 assigning authority designates this source's local patient ids."""
        if not self.patient_id_authorities:
            return True
        return bool({namespace, universal_id} & self.patient_id_authorities - {""})
