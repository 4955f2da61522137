"""``GET /access/explain``: why a caller would (not) see a resource, for auditors.

``resource=Type/id`` names the resource; ``as`` is a JSON object of token facts (``kind``,
``sub``, ``profession``, ``specialty``, ``role``, ``structure``, ``patient``,
``purpose_of_use``, ``justification``, ``group``). The answer is the decision, the rule
and reason that made it and the votes cast; never the resource's content.

Who may ask: auditors (and the ``dev`` caller, which exists only in dev mode). An
explanation is made of patient facts: whether a resource exists, whether an INS is the
patient's (``patient-mismatch`` vs ``no-relationship``), the patient's choices
(``btg-opposed``, ``general-opposition``, blocked professionals, consents). Auditors
already see every patient's audit trail, which is the material such questions are about;
administrators see no patient identity and no Consent, and choosing the ``as`` facts
freely would let them probe both (an INS against ``Patient/x``, an opposition with
``purpose_of_use=bris_de_glace``). Reducing the admin answer to allow/deny would still
leak them (allow vs deny differs with the same facts), so administrators get 403 like
every other caller who is not an auditor, whatever the resource, before anything is
read.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from gateway.access.context import AccessContext
from gateway.api.caller import authenticated
from gateway.errors import BadRequest, Forbidden, NotFound
from gateway.fhir.references import parse_reference
from gateway.policy import Action
from gateway.record.repository import Repository

router = APIRouter()
FACTS = (
    "kind",
    "sub",
    "profession",
    "specialty",
    "role",
    "structure",
    "patient",
    "purpose_of_use",
    "justification",
    "group",
)
EXPLAINERS = frozenset({"auditor", "dev"})


def _subject_context(raw: str | None) -> AccessContext:
    if not raw:
        raise BadRequest("'as' (a JSON object of token facts) is required", expression="as")
    try:
        facts = json.loads(raw)
    except ValueError:
        raise BadRequest("'as' is not JSON", expression="as") from None
    if not isinstance(facts, dict) or any(not isinstance(facts.get(k, ""), str) for k in FACTS):
        raise BadRequest("'as' must be an object of string facts", expression="as")
    unknown = set(facts) - set(FACTS)
    if unknown:
        raise BadRequest(f"Unknown facts in 'as': {', '.join(sorted(unknown))}", expression="as")
    return AccessContext(
        kind=facts.get("kind", "professional"),
        subject=facts.get("sub"),
        profession=facts.get("profession"),
        specialty=facts.get("specialty"),
        role=facts.get("role"),
        structure=facts.get("structure"),
        patient=facts.get("patient"),
        purpose_of_use=facts.get("purpose_of_use", "normal"),
        justification=facts.get("justification"),
        group=facts.get("group"),
    )


def explain(
    caller: AccessContext, services: Any, resource: str | None, as_: str | None
) -> dict[str, Any]:
    if caller.kind not in EXPLAINERS:
        raise Forbidden("Only auditors may ask for explanations")
    ref = parse_reference(resource or "")
    if ref is None:
        raise BadRequest("'resource' must be Type/id", expression="resource")
    subject = _subject_context(as_)
    repo = Repository(subject, services)
    with repo.reading() as reader:
        current = reader.tx.current(ref.resource_type, ref.id)
        if current is None:
            raise NotFound(f"{ref.relative} is not known")
        decision = services.policy.explain(reader, current, Action.READ)
    return {"resource": ref.relative, "as": subject.kind, **decision.explain()}


@router.get("/access/explain", include_in_schema=False)
async def access_explain(request: Request) -> Response:
    caller = await authenticated(request)
    body = await run_in_threadpool(
        explain,
        caller,
        request.app.state.services,
        request.query_params.get("resource"),
        request.query_params.get("as"),
    )
    return JSONResponse(body)
