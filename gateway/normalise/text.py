"""Text helpers shared by the normalisers: label folding and trimming."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SEPARATORS = re.compile(r"[\s_\-.'’/]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@lru_cache(maxsize=8192)
def fold_label(text: str) -> str:
    """A matching key for a human label: case-folded, accents removed, separators collapsed.

    ``"Glycémie capillaire"``, ``"GLYCEMIE_CAPILLAIRE"`` and ``" glycemie-capillaire "``
    all fold to ``"glycemie capillaire"``. ``°`` and ``%`` are kept: they carry meaning
    in unit labels. Pure, hence memoised: labels repeat on every row of an export.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


def clean(text: str | None) -> str:
    """Trim surrounding whitespace and drop control characters; case and inner text kept."""
    if not text:
        return ""
    if text.isprintable():
        return text.strip()
    return _CONTROL.sub("", text).strip()
