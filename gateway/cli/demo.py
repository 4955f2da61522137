"""``dmp-gateway demo`` and ``dmp-gateway token``: a working set-up to try the gateway.

Both are refused unless ``GATEWAY_ENV=dev``. ``demo`` registers one demo client per role
with a freshly generated key pair (private keys stay in ``<data dir>/demo-keys.json``,
mode 0600), and loads the demo record. ``token`` prints a signed bearer token for a demo
actor, with any fact overridden.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import typer

from gateway.auth import demo as actors
from gateway.auth.dev import (
    client_entry,
    generate_private_jwk,
    public_jwk,
    sign_token,
    token_claims,
)
from gateway.cli.clients import add_client
from gateway.config import Settings

DEMO_CLIENTS: dict[str, dict[str, Any]] = {
    "demo-vendor": {
        "name": "Demo DMP-compatible software",
        "role": "vendor",
        "structures": [actors.HOSPITAL, actors.PHARMACY, actors.SAMU],
    },
    "demo-ehpad": {
        "name": "Demo EHPAD software",
        "role": "ehpad",
        "structures": [actors.EHPAD],
        "group": actors.EHPAD_GROUP,
    },
    "demo-auditor": {"name": "Demo audit tool", "role": "auditor", "structures": [actors.HOSPITAL]},
    "demo-admin": {"name": "Demo operator console", "role": "admin", "structures": []},
}
CLIENT_FOR_KIND = {
    "professional": "demo-vendor",
    "patient": "demo-vendor",
    "system": "demo-ehpad",
    "auditor": "demo-auditor",
    "admin": "demo-admin",
}


def _client_for(kind: str, structure: str | None) -> str:
    """The demo client that may speak for this kind of caller and this structure."""
    default = CLIENT_FOR_KIND[kind]
    if structure is None or structure in DEMO_CLIENTS[default]["structures"]:
        return default
    for client_id, spec in DEMO_CLIENTS.items():
        if structure in spec["structures"] and spec["role"] in ("vendor", "ehpad"):
            return client_id
    return default


def _dev_settings() -> Settings:
    from gateway.cli import load_settings

    settings = load_settings()
    if settings.env != "dev":
        typer.echo("refused: demo clients and tokens exist only with GATEWAY_ENV=dev", err=True)
        raise typer.Exit(2)
    return settings


def _keys_path(settings: Settings) -> Path:
    return settings.data_dir / "demo-keys.json"


def ensure_demo_clients(settings: Settings) -> dict[str, dict[str, Any]]:
    """Create the demo key pairs once and (re)register the demo clients."""
    path = _keys_path(settings)
    keys: dict[str, dict[str, Any]] = json.loads(path.read_text("utf-8")) if path.exists() else {}
    for client_id in DEMO_CLIENTS:
        keys.setdefault(client_id, generate_private_jwk("Ed25519", kid=f"{client_id}-1"))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh, indent=1)
    for client_id, spec in DEMO_CLIENTS.items():
        entry = client_entry(
            client_id,
            name=spec["name"],
            role=spec["role"],
            structures=spec["structures"],
            public_keys=[public_jwk(keys[client_id])],
            group=spec.get("group"),
            per_second=50.0,
            burst=100,
        )
        add_client(settings.clients_path, entry)
    return keys


@dataclass
class DemoLoad:
    """What ``load_demo_record`` did, by ``Type/id``."""

    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # present (or deleted) already: untouched
    members_added: dict[str, list[str]] = field(default_factory=dict)  # Group: new members


def load_demo_record(settings: Settings) -> DemoLoad:
    """Load the demo record through the repository (dev context, dev only), without
    undoing what was written since an earlier run: a demo resource that exists already
    (or was deleted) is kept as it is; a Group only gains the demo members it lacks.

    One write transaction, audited as a transaction, as the Bundle it replaces was.
    """
    from gateway.access.context import AccessContext
    from gateway.app import access_rules, build_services
    from gateway.auth.demo_bundle import demo_transaction
    from gateway.record.audit_trail import Interaction
    from gateway.record.repository import Repository
    from gateway.storage import migrate

    services = replace(build_services(settings), policy=access_rules(settings, trusted_loader=True))
    done = DemoLoad()
    try:
        migrate.upgrade(services.store.engine)
        repo = Repository(AccessContext.dev_open(), services)
        repo.interaction = Interaction("transaction")
        with repo.writing() as w:
            for entry in demo_transaction()["entry"]:
                resource = entry["resource"]
                rtype, rid = resource["resourceType"], resource["id"]
                name = f"{rtype}/{rid}"
                current = w.current(rtype, rid)
                if current is None:
                    w.update(rtype, rid, resource, if_none_match="*")
                    done.created.append(name)
                    continue
                done.kept.append(name)
                if rtype == "Group" and not current.deleted and current.content:
                    stored = orjson.loads(current.content)
                    missing = _missing_members(stored, resource)
                    if missing:
                        stored["member"] = [*stored.get("member", []), *missing]
                        w.update(rtype, rid, stored, if_match=current.version)
                        done.members_added[name] = [m["entity"]["reference"] for m in missing]
        return done
    finally:
        services.store.engine.dispose()


def _missing_members(stored: dict[str, Any], demo_group: dict[str, Any]) -> list[dict[str, Any]]:
    """The demo Group's members that the stored Group lacks (by entity reference)."""
    have = {(m.get("entity") or {}).get("reference") for m in stored.get("member", [])}
    return [m for m in demo_group.get("member", []) if m["entity"]["reference"] not in have]


def demo() -> None:
    """Register the demo clients and load the demo record (dev only); run again, it
    creates what is missing and keeps what exists (a Group only gains members)."""
    settings = _dev_settings()
    ensure_demo_clients(settings)
    done = load_demo_record(settings)
    typer.echo(f"demo clients registered in {settings.clients_path}")
    typer.echo(
        f"demo record: {len(done.created)} resources created, {len(done.kept)} kept as they were"
    )
    for group, members in done.members_added.items():
        typer.echo(f"{group}: added demo members {', '.join(members)} (none removed)")
    typer.echo(
        f"try: TOKEN=$(dmp-gateway token --role professional --patient {actors.PATIENT_INS[0]})"
    )


def token(
    role: str = typer.Option("professional", help="professional, patient, system, auditor, admin"),
    actor: str | None = typer.Option(None, help="A demo actor: " + ", ".join(actors.ACTORS)),
    idnat: str | None = typer.Option(None, help="sub: idNat_PS (or INS for a patient)."),
    profession: str | None = typer.Option(None, help="TRE_G15 profession code."),
    specialty: str | None = typer.Option(None),
    structure: str | None = typer.Option(None, help="idNat_Struct."),
    patient: str | None = typer.Option(None, help="INS of the patient the calls concern."),
    mode: str = typer.Option("normal", help="normal, bris_de_glace or centre_15 (professionals)."),
    justification: str | None = typer.Option(None),
    client: str | None = typer.Option(None, help="Demo client id that signs the token."),
    group: str | None = typer.Option(None),
    ttl: int = typer.Option(
        300, min=1, max=300, help="Lifetime in seconds (the server accepts at most 300)."
    ),
) -> None:
    """Print a signed bearer token for a demo actor (dev only)."""
    settings = _dev_settings()
    default = {
        "professional": "physician",
        "patient": "patient",
        "system": "ehpad",
        "auditor": "auditor",
        "admin": "admin",
    }
    chosen = actors.ACTORS.get(actor or default.get(role, ""))
    if chosen is None:
        typer.echo(f"unknown role or actor: {actor or role}", err=True)
        raise typer.Exit(2)
    facts = chosen.claims()
    overrides = {
        "sub": idnat,
        "profession": profession,
        "specialty": specialty,
        "structure": structure,
        "patient": patient,
        "justification": justification,
        "group": group,
    }
    facts.update({k: v for k, v in overrides.items() if v is not None})
    if chosen.kind == "professional":
        facts["purpose_of_use"] = mode
    _refuse_unacceptable(chosen.kind, facts, mode)
    keys = (
        ensure_demo_clients(settings)
        if not _keys_path(settings).exists()
        else json.loads(_keys_path(settings).read_text("utf-8"))
    )
    client_id = client or _client_for(chosen.kind, facts.get("structure"))
    if client_id not in keys:
        typer.echo(
            f"refused: unknown demo client {client_id!r}; known: {', '.join(sorted(keys))}",
            err=True,
        )
        raise typer.Exit(2)
    claims = token_claims(
        facts, client_id=client_id, audience=settings.audience, now=int(time.time()), ttl=ttl
    )
    typer.echo(sign_token(claims, keys[client_id]))


def _refuse_unacceptable(kind: str, facts: dict[str, Any], mode: str) -> None:
    """Exit 2 naming the fact the server would refuse the token for
    (:func:`gateway.auth.claims.context_from_claims` checks the same)."""
    from gateway.auth.claims import MODES
    from gateway.fhir.identifiers import is_valid_idnat_ps, is_valid_nir

    problem = None
    patient, sub = facts.get("patient"), str(facts.get("sub", ""))
    if mode not in MODES:
        problem = f"--mode {mode!r} is not one of: {', '.join(sorted(MODES))}"
    elif mode != "normal" and kind != "professional":
        problem = f"--mode {mode} is for professionals only"
    elif mode == "bris_de_glace" and not facts.get("justification"):
        problem = "--mode bris_de_glace needs --justification TEXT"
    elif patient is not None and not is_valid_nir(str(patient)):
        problem = f"--patient {patient!r} is not a valid INS (15 characters, NIR key)"
    elif kind == "professional" and not is_valid_idnat_ps(sub):
        problem = f"--idnat {sub!r} is not a valid idNat_PS ('8' + RPPS or '0' + ADELI)"
    elif kind == "patient" and not is_valid_nir(sub):
        problem = f"--idnat {sub!r} is not a valid INS (15 characters, NIR key)"
    if problem:
        typer.echo(f"refused: {problem}", err=True)
        raise typer.Exit(2)
