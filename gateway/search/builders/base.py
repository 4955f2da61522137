"""What every row builder shares: its signature and a text accessor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from gateway.search.rows import IndexRows

# (parameter code, values found, rows to append to, the resource, zone of local dates)
Builder = Callable[[str, list[Any], IndexRows, dict[str, Any], ZoneInfo], None]


def text_of(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def parts_of(value: Any) -> list[str]:
    """The non-empty strings of a string or a list of strings."""
    if isinstance(value, list):
        return [p for p in value if isinstance(p, str) and p]
    return [value] if isinstance(value, str) and value else []
