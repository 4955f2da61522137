"""FHIR operations (``$name``), one module each, registered in :data:`OPERATIONS`.

An operation declares its name, the levels it runs at (system, type, instance), the
resource types it applies to and the HTTP methods it accepts; the CapabilityStatement
lists them from here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.errors import MethodNotAllowed, NotFound
from gateway.fhir.resource_types import RESOURCE_TYPES
from gateway.record.repository import Repository
from gateway.rest import everything
from gateway.rest.request import FhirRequest, FhirResponse

OperationHandler = Callable[[FhirRequest, Repository], FhirResponse]


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # without the leading "$"
    levels: frozenset[str]  # "system", "type", "instance"
    resource_types: frozenset[str] | None  # None: any type
    methods: frozenset[str]
    handler: OperationHandler
    definition: str  # canonical URL of the OperationDefinition
    # Per resource type, when a type's OperationDefinition is another one (Bulk Data:
    # Patient/$export is patient-export, Group/[id]/$export group-export).
    type_definitions: Mapping[str, str] = field(default_factory=dict)

    def definition_for(self, resource_type: str | None) -> str:
        """The canonical URL of the OperationDefinition at ``resource_type`` (None: system)."""
        if resource_type is None:
            return self.definition
        return self.type_definitions.get(resource_type, self.definition)


OPERATIONS: dict[str, Operation] = {}


def register(op: Operation) -> Operation:
    OPERATIONS[op.name] = op
    return op


register(
    Operation(
        name="everything",
        levels=frozenset({"type", "instance"}),
        resource_types=frozenset({"Patient"}),
        methods=frozenset({"GET"}),
        handler=everything.everything,
        definition=everything.DEFINITION,
    )
)


def run_operation(req: FhirRequest, repo: Repository) -> FhirResponse:
    segs = req.segments
    name = segs[-1][1:]
    level = {1: "system", 2: "type", 3: "instance"}.get(len(segs))
    op = OPERATIONS.get(name)
    if level is None or op is None:
        raise NotFound(f"Unknown operation '${name}'", code="GW-3003")
    if level != "system" and segs[0] not in RESOURCE_TYPES:
        raise NotFound(f"Unknown resource type '{segs[0]}'", code="GW-3001")
    if level not in op.levels or (
        level != "system" and op.resource_types is not None and segs[0] not in op.resource_types
    ):
        raise NotFound(f"Operation '${name}' is not defined at this level or type", code="GW-3003")
    if req.method not in op.methods:
        verbs = sorted(op.methods)
        raise MethodNotAllowed(
            f"${name} accepts {', '.join(verbs)}", headers={"Allow": ", ".join(verbs)}
        )
    return op.handler(req, repo)
