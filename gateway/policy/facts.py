"""The plain inputs of the policy engine: the action, the resource and the patient's facts.

All three are frozen, hashable and made of strings, booleans, frozensets and datetimes, so a
reference model (the lead's leak test) can build them without importing anything else.

Identifiers are compared as plain strings:

- a professional is known by their idNat_PS (``8`` + RPPS), a structure by its idNat_Struct;
- a patient is known by every key in :attr:`PatientFacts.patient_refs`, e.g. the local
  reference ``Patient/123`` and the bare INS ``285037512345688``. ``ResourceFacts.patient``
  and the token's ``patient`` claim must be one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum


class Action(Enum):
    """What the caller wants to do with one resource.

    ``SEARCH_MATCH`` is a resource appearing in a search, an ``_include``, a history or an
    export: it follows the read rules. ``UPDATE_LABELS`` is a change of ``meta.security``
    only (``$meta-add``, ``$meta-delete``, or an update whose only change is the labels).
    """

    READ = "read"
    SEARCH_MATCH = "search-match"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UPDATE_LABELS = "update-labels"

    @property
    def is_read(self) -> bool:
        return self in (Action.READ, Action.SEARCH_MATCH)

    @property
    def is_write(self) -> bool:
        return not self.is_read


# Gateway classes beside the TRE_A03 document classes (see profiles/resource-classes.yaml).
NOT_CLINICAL = "not-clinical"
ADMINISTRATIVE = "administrative"
AUDIT = "audit"
CONSENT = "consent"
ROSTER = "roster"
EXCLUDED = "excluded"
GATEWAY_CLASSES = frozenset({NOT_CLINICAL, ADMINISTRATIVE, AUDIT, CONSENT, ROSTER, EXCLUDED})
PATIENT_DOCUMENTS = "90"  # TRE_A03 "Déposé par le patient"


@dataclass(frozen=True, slots=True)
class ConsentSummary:
    """What a Consent resource says, as read by :mod:`gateway.policy.consent_shapes`.

    ``shapes`` holds shape codes such as ``access-grant`` or ``blocked-professional``;
    ``actors`` the idNat_PS / idNat_Struct the provisions name.
    """

    shapes: frozenset[str] = frozenset()
    actors: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ResourceFacts:
    """What the policy needs to know about one resource (never its clinical content).

    - ``patient``: the patient the resource belongs to (None when it is in no patient
      compartment, e.g. a Practitioner);
    - ``author`` / ``author_structure``: the idNat_PS (or, for a patient's own document,
      the INS) and the idNat_Struct of whoever created the resource, as recorded by the
      gateway at write time;
    - ``labels``: canonical security labels (see :mod:`gateway.policy.labels`); an unknown
      label is kept as ``system|code`` and makes every access fail closed;
    - ``document_class``: a TRE_A03 class code or a gateway class (``administrative`` …),
      None when it could not be resolved (deny);
    - ``document_type``: the DocumentReference / Composition type code, for per-type
      exclusions in the matrix;
    - ``created_at`` / ``announced_at``: when the resource was created and when an
      ``INVISIBLE_PATIENT`` document was announced to the patient.
    """

    type: str
    id: str | None = None
    patient: str | None = None
    author: str | None = None
    author_structure: str | None = None
    labels: frozenset[str] = frozenset()
    document_class: str | None = None
    document_type: str | None = None
    created_at: datetime | None = None
    announced_at: datetime | None = None
    consent: ConsentSummary | None = None


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """The patient's choices and relationships, loaded from the database by the caller.

    Build it with :func:`gateway.policy.consent.patient_facts_from_consents` from the
    patient's Consent and CareTeam resources. ``unreadable`` lists the choices that could
    not be read (an unknown Consent shape, an unresolved reference): while it is not
    empty, professionals and systems are refused (fail closed) and the patient still sees
    their record so they can fix it.
    """

    patient_refs: frozenset[str]
    record_closed: bool = False
    general_opposition: bool = False
    care_team_opposition: bool = False
    btg_opposition: bool = False
    centre15_opposition: bool = False
    masked_emergency_consent: bool = False
    blocked_professionals: frozenset[str] = frozenset()
    blocked_structures: frozenset[str] = frozenset()
    care_team_professionals: frozenset[str] = frozenset()
    care_team_structures: frozenset[str] = frozenset()
    designated_professionals: frozenset[str] = frozenset()
    consented_professionals: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    legal_representatives: frozenset[str] = frozenset()
    unreadable: tuple[str, ...] = field(default=())
    # Literal references of the patient's Consents and CareTeams -> idNat_PS / structure,
    # so that a Consent is judged with the actors it names resolved (rule 7: re-reading).
    actor_references: tuple[tuple[str, str], ...] = field(default=(), compare=False)
