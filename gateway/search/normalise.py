"""String normalisation for search (https://hl7.org/fhir/R4/search.html#string).

"By default, a field matches a string query if the value of the field equals or starts
with the supplied parameter value, after both have been normalized by case and accent."
We case-fold (so ``ß`` matches ``ss``), decompose with NFKD (so ligatures and full-width
forms match their plain letters) and drop combining marks (so ``Hélène`` matches
``helene``), then collapse runs of white space. Index rows and query values go through
the same function, so they always agree.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


# Codes' displays and names repeat across resources: caching pays for itself.
@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """The case- and accent-insensitive form of ``text``."""
    if text.isascii():
        folded = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    if "  " in folded or not folded.isprintable() or folded != folded.strip():
        folded = " ".join(folded.split())
    return folded
