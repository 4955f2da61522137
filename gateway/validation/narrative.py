"""The XHTML rules of a resource narrative (``htmlChecks()``, invariants txt-1 and txt-2).

FHIRPath engines have no ``htmlChecks()``; FHIR R4 §2.4 (Narrative) defines it: the div is
XHTML, its root a ``div`` in the XHTML namespace, with only the basic formatting elements
of HTML 4 (no scripts, forms, frames, objects), no event attributes, and some content
(txt-2: text or an image).

Parsing uses the standard library's expat, after refusing any document type or entity
declaration, so that no entity expansion can happen.

See https://hl7.org/fhir/R4/narrative.html#xhtml.
"""

from __future__ import annotations

from functools import lru_cache
from xml.etree import ElementTree

XHTML = "{http://www.w3.org/1999/xhtml}"

#: HTML 4.0 chapters 7-11 and 15 (without 9.4), ``a``, ``img`` and ``style``: FHIR R4 §2.4.0.1.
ALLOWED_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "address",
        "b",
        "big",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "ul",
        "var",
    ]
)
ALLOWED_ATTRIBUTES = frozenset(
    [
        "abbr",
        "accesskey",
        "align",
        "alt",
        "axis",
        "bgcolor",
        "border",
        "cellhalign",
        "cellpadding",
        "cellspacing",
        "cellvalign",
        "char",
        "charoff",
        "charset",
        "cite",
        "class",
        "colspan",
        "compact",
        "coords",
        "dir",
        "frame",
        "headers",
        "height",
        "href",
        "hreflang",
        "hspace",
        "id",
        "lang",
        "longdesc",
        "name",
        "nowrap",
        "rel",
        "rev",
        "rowspan",
        "rules",
        "scope",
        "shape",
        "span",
        "src",
        "start",
        "style",
        "summary",
        "tabindex",
        "title",
        "type",
        "valign",
        "value",
        "vspace",
        "width",
    ]
)
_XML_ATTRIBUTES = frozenset({"{http://www.w3.org/XML/1998/namespace}lang"})


@lru_cache(maxsize=64)
def _parse(div: str) -> ElementTree.Element | str:
    """The parsed div, or why it cannot be parsed (txt-1 and txt-2 share one parse)."""
    if "<!DOCTYPE" in div or "<!ENTITY" in div:
        return "the narrative declares a document type or an entity"
    try:
        return ElementTree.fromstring(div)  # noqa: S314 - declarations refused above
    except ElementTree.ParseError as exc:
        return f"the narrative is not well-formed XHTML: {exc}"


def html_problems(div: str) -> list[str]:
    """Why ``div`` breaks txt-1 (empty when it is acceptable XHTML)."""
    root = _parse(div)
    if isinstance(root, str):
        return [root]
    if root.tag != XHTML + "div":
        return ["the narrative root must be a div in the XHTML namespace"]
    problems: list[str] = []
    for element in root.iter():
        tag = element.tag
        if not isinstance(tag, str) or not tag.startswith(XHTML):
            problems.append(f"element {tag!r} is not XHTML")
            continue
        name = tag[len(XHTML) :]
        if name not in ALLOWED_ELEMENTS:
            problems.append(f"element <{name}> is not allowed in a narrative")
        for attribute in element.attrib:
            if attribute not in ALLOWED_ATTRIBUTES and attribute not in _XML_ATTRIBUTES:
                problems.append(f"attribute {attribute!r} on <{name}> is not allowed")
    return problems


def has_content(div: str) -> bool:
    """txt-2: some non-whitespace text, or an image."""
    root = _parse(div)
    if isinstance(root, str):
        return False
    if "".join(root.itertext()).strip():
        return True
    return any(e.tag == XHTML + "img" for e in root.iter())
