"""CSV decoding, separator sniffing, records with their raw text; mapping files."""

from __future__ import annotations

import pytest
import yaml

from gateway.ingest.csv.mapping import load_mappings, parse_mapping, split_header
from gateway.ingest.csv.reader import decode, records, sniff_delimiter

TEXT = "Nom;Prénom\r\nLEFÈVRE;Hélène\r\n"


@pytest.mark.parametrize(
    ("data", "encoding", "assumed"),
    [
        (TEXT.encode("utf-8"), "utf-8", False),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8", False),
        (TEXT.encode("cp1252"), "cp1252", True),
        (b"\xff\xfe" + TEXT.encode("utf-16-le"), "utf-16-le", False),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16-be", False),
        ("Nom;Prénom\r\nLEFÈVRE;Hélène\x81\r\n".encode("latin-1"), "latin-1", True),
    ],
)
def test_decode(data: bytes, encoding: str, assumed: bool) -> None:
    decoded = decode(data)
    assert decoded.encoding == encoding
    assert decoded.text.startswith("Nom;Prénom")
    assert "LEFÈVRE" in decoded.text
    assert (decoded.assumption is not None) is assumed


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a;b;c", ";"),
        ("a,b,c", ","),
        ("a\tb\tc", "\t"),
        ("a|b|c", "|"),
        ('"Nom, prénom";Date;Valeur', ";"),
        ("a;b,c", ";"),
        ("seul", ";"),
    ],
)
def test_sniff_delimiter(line: str, expected: str) -> None:
    assert sniff_delimiter(line) == expected


def test_records_keep_their_raw_text_and_line() -> None:
    text = 'a;b\r\n1;"deux\r\nlignes"\r\n\r\n3;"quatre ; cinq"\r\n'
    found = list(records(text, ";"))
    assert [(r.line, r.cells) for r in found] == [
        (1, ["a", "b"]),
        (2, ["1", "deux\r\nlignes"]),
        (4, []),
        (5, ["3", "quatre ; cinq"]),
    ]
    assert found[1].raw == '1;"deux\r\nlignes"\r\n'
    assert found[2].blank
    assert "".join(r.raw for r in found) == text


def test_split_header() -> None:
    assert split_header("Poids (kg)") == ("poids", "kg")
    assert split_header("Temp [°C]") == ("temp", "°C")
    assert split_header("\ufeffN° Résident ") == ("n° resident", None)
    assert split_header("DATE_DE_NAISSANCE") == ("date de naissance", None)


def test_shipped_mappings_load() -> None:
    mappings = load_mappings()
    assert set(mappings) == {"residents", "vitals", "administrations", "care-notes"}
    vitals = mappings["vitals"]
    assert vitals.wide is not None
    assert vitals.wide.conceptmap == "LocalVitalSignToLoinc"
    status = mappings["administrations"].column("status")
    assert status.values["refuse"] == "not-done"
    assert status.default == "completed"
    assert mappings["residents"].column("birth_date").required


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kind": "x", "resource": "Patient", "colums": {}}, "unknown top-level keys"),
        (
            {"kind": "x", "resource": "P", "columns": {"a": {"aliases": ["a"], "type": "blob"}}},
            "unknown type",
        ),
        ({"kind": "x", "resource": "P", "columns": {"a": {"aliases": []}}}, "aliases"),
        (
            {
                "kind": "x",
                "resource": "P",
                "columns": {"a": {"aliases": ["n°"]}, "b": {"aliases": ["N°"]}},
            },
            "alias",
        ),
        (
            {"kind": "x", "resource": "P", "columns": {"a": {"aliases": ["a"], "requierd": True}}},
            "unknown keys",
        ),
        (
            {"kind": "x", "resource": "P", "one_of": [["z"]], "columns": {"a": {"aliases": ["a"]}}},
            "one_of",
        ),
    ],
)
def test_mapping_validation(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_mapping(yaml.safe_load(yaml.safe_dump(document)))
