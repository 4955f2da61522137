"""Reading the conformance data the record needs from the profiles folder."""

from __future__ import annotations

import json
from pathlib import Path

DOCUMENT_TYPE_MAP = "gateway/ConceptMap-gw-document-type-to-class.json"


def document_type_classes(profiles: Path) -> dict[str, str]:
    """Document type → TRE_A03 class (``system|code`` → class) from the gateway ConceptMap.

    Without the map, no document type has a class, so every DocumentReference is refused
    to everyone but the dev caller (fail closed).
    """
    path = profiles / DOCUMENT_TYPE_MAP
    if not path.exists():
        return {}
    concept_map = json.loads(path.read_text("utf-8"))
    out: dict[str, str] = {}
    for group in concept_map.get("group", []):
        source = group.get("source", "")
        for element in group.get("element", []):
            targets = [t for t in element.get("target", []) if t.get("code")]
            if targets:
                out[f"{source}|{element['code']}"] = targets[0]["code"]
    return out
