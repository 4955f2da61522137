"""Loading the search benchmark's corpus: Synthea transaction Bundles, repeated.

Bundles go through the repository as FHIR transactions, in process (the same path as
``POST /fhir`` without HTTP: structural validation, index extraction, one database
transaction per Bundle). Each repeat posts the patient Bundles again with fresh
``urn:uuid`` ids (:func:`fresh_ids`), so the database
grows by new patients with realistic records.

The first copy of the largest patient record is grown to ``big`` resources by cloning
its Observations (same patient, same encounters), for the ``$everything`` target.
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.ingest import bundle_files
from gateway.access.context import AccessContext
from gateway.fhir.json import loads
from gateway.record.repository import Repository
from gateway.record.services import RecordServices
from gateway.rest.request import FhirRequest
from gateway.rest.router import dispatch

BASE = "http://bench.invalid/fhir"
_FAMILY = re.compile(r'("family": *"[^"]*)"')
_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_ENTRIES = 1000


def fresh_ids(raw: str) -> str:
    """The same Bundle with new ``urn:uuid`` placeholders; conditional references to the
    shared organisations and practitioners (``Organization?identifier=…``) are kept."""
    mapping: dict[str, str] = {}
    return _URN.sub(lambda m: mapping.setdefault(m.group(0), f"urn:uuid:{uuid.uuid4()}"), raw)


def renamed(raw: str, round_: int) -> str:
    """Other patients, not homonyms: family names get the round number."""
    return _FAMILY.sub(lambda m: f'{m.group(1)}r{round_}"', raw)


def grown(bundle: dict[str, Any], size: int) -> dict[str, Any]:
    """``bundle`` with cloned Observation entries until it holds ``size`` entries."""
    entries = bundle["entry"]
    observations = [e for e in entries if e["resource"]["resourceType"] == "Observation"]
    extra: list[dict[str, Any]] = []
    i = 0
    while observations and len(entries) + len(extra) < size:
        clone = copy.deepcopy(observations[i % len(observations)])
        new = f"urn:uuid:{uuid.uuid4()}"
        clone["fullUrl"] = new
        clone["resource"]["id"] = new.rsplit(":", 1)[1]
        extra.append(clone)
        i += 1
    return {**bundle, "entry": entries + extra}


def _post(repo: Repository, bundle: dict[str, Any]) -> int:
    entries = bundle.get("entry", [])
    for i in range(0, len(entries), MAX_ENTRIES):
        part = {**bundle, "entry": entries[i : i + MAX_ENTRIES]}
        response = dispatch(FhirRequest("POST", [], resource=part, base=BASE), repo)
        if response.status != 200:
            raise SystemExit(f"bundle refused: {response.status} {(response.body or b'')[:300]!r}")
    return len(entries)


def load(services: RecordServices, corpus: Path, *, repeat: int, big: int) -> dict[str, Any]:
    """Load the corpus; return counts and the load rate."""
    repo = Repository(AccessContext.dev_open(), services)
    files = bundle_files([corpus])
    shared = [f for f in files if f.name.startswith(("hospital", "practitioner"))]
    patients = [f for f in files if f not in shared]
    texts = {f: f.read_text("utf-8") for f in files}
    largest = max(patients, key=lambda f: texts[f].count('"request"'))
    start = time.perf_counter()
    total = sum(_post(repo, loads(texts[f].encode())) for f in shared)

    def work() -> Iterator[dict[str, Any]]:
        for round_ in range(repeat):
            for f in patients:
                raw = texts[f] if round_ == 0 else renamed(fresh_ids(texts[f]), round_)
                bundle = loads(raw.encode())
                yield grown(bundle, big) if round_ == 0 and f == largest else bundle

    for n, bundle in enumerate(work(), 1):
        total += _post(repo, bundle)
        if n % 50 == 0:
            rate = total / (time.perf_counter() - start)
            print(f"  loaded {total} resources ({rate:.0f}/s)", flush=True)
    elapsed = time.perf_counter() - start
    return {"resources_loaded": total, "load_seconds": round(elapsed, 1)}
