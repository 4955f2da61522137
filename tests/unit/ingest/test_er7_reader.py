"""The ER7 reader: separators, framing, charsets, escapes, and python-hl7 agreement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hl7
import pytest

from gateway.ingest.hl7v2.er7 import Separators, Unreadable, decode, read, unescape
from gateway.ingest.issues import Hl7Location

from .support import SAMPLES

MSG = (
    "MSH|^~\\&|APP|FAC|GW|DMP|20240714083000||ADT^A08^ADT_A01|C1|P|2.5\rPID|1||42^^^X^PI||DOE^JOHN"
)


@pytest.mark.parametrize("sep", ["\r", "\n", "\r\n"])
def test_segment_separators(sep: str) -> None:
    message = read(MSG.replace("\r", sep) + sep)
    assert [s.name for s in message.segments] == ["MSH", "PID"]
    assert message.find("PID") is not None
    assert message.segments[1].value(5, 2) == "JOHN"


def test_framing_bom_and_whitespace_are_stripped() -> None:
    text, charset, assumption = decode(b"\x0b\xef\xbb\xbf" + MSG.encode() + b"\x1c\r")
    assert text.startswith("MSH|")
    assert (charset, assumption) == ("utf-8", None)
    assert read("\ufeff" + MSG + "\r\n  ").msh.value(10) == "C1"


def test_continuation_lines_are_joined_with_a_note() -> None:
    message = read(
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|C2|P|2.5\rOBX|1|TX|X^Y||first line\nsecond line||||||F"
    )
    obx = message.find("OBX")
    assert obx is not None
    assert obx.value(5) == "first line\nsecond line"
    message = read(
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|C2|P|2.5\nOBX|1|TX|X^Y||first line\nsecond line"
    )
    obx = message.find("OBX")
    assert obx is not None
    assert obx.value(5) == "first line\nsecond line"
    assert message.notes
    assert "joined" in message.notes[0][0]


def test_charsets() -> None:
    latin = MSG.replace("DOE^JOHN", "LEFÈVRE^Hélène") + "\r"
    declared = latin.replace("|P|2.5", "|P|2.5||||||8859/1", 1).encode("latin-1")
    text, charset, assumption = decode(declared)
    assert "LEFÈVRE" in text
    assert (charset, assumption) == ("latin-1", None)
    text, charset, assumption = decode(latin.encode("cp1252"))
    assert "Hélène" in text
    assert charset == "cp1252"
    assert assumption is not None
    assert "Windows-1252" in assumption
    assert decode(latin.encode("utf-8"))[1] == "utf-8"


def test_odd_but_valid_encoding_characters() -> None:
    odd = "MSH#$%@!|A|B|C|D|2024||ADT$A08|C3|P|2.5\rPID#1##42$$$X$PI%43$$$Y$MR##NOM$Pr@S@nom"
    odd = odd.replace("|", "#")
    message = read(odd)
    assert message.seps == Separators("#", "$", "%", "@", "!")
    pid = message.find("PID")
    assert pid is not None
    assert [r.c(1) for r in pid.reps(3)] == ["42", "43"]
    assert pid.value(5, 2) == "Pr$nom"
    assert message.msh.value(9, 2) == "A08"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PID|1||42",
        "MSH|^~",
        "MSH|^^\\&|A",
        "MSH|abcd|A",
        "MSH|^~\\&",
        "\x00\x01\x02",
    ],
)
def test_unreadable(text: str) -> None:
    with pytest.raises(Unreadable):
        read(text)


def test_unescape() -> None:
    seps = Separators()
    assert unescape("A\\T\\B \\F\\ \\S\\ \\R\\ \\E\\", seps) == "A&B | ^ ~ \\"
    assert unescape("line\\.br\\next", seps) == "line\nnext"
    assert unescape("\\X41C3A9\\", seps) == "AÃ©"
    assert unescape("\\H\\bold\\N\\", seps) == "bold"
    assert unescape("unterminated \\F", seps) == "unterminated \\F"
    assert unescape("\\Q\\", seps) == "\\Q\\"


def test_locations() -> None:
    pid = read(MSG + "\rPID|2||7^^^Z^PI~8^^^Z^PI").all("PID")[1]
    rep = pid.reps(3)[1]
    assert str(rep.location) == "PID[2]-3[2]"
    assert str(rep.at(1)) == "PID[2]-3[2].1"
    assert rep.at(4, 2).erl() == "PID^2^3^2^4^2"
    assert rep.location == Hl7Location("PID", 2, 3, 2)
    assert pid.first(9).location == Hl7Location("PID", 2, 9, 1)  # absent field


def test_repetitions_empty_and_equal() -> None:
    text = MSG + "\rPID|1||7^^^Z^PI~ ^ & ~8^^^Z^PI|| \r"
    pid, again = read(text).all("PID")[-1], read(text).all("PID")[-1]
    assert [c.c(1) for c in pid.reps(3)] == ["7", "8"]  # the blank repetition is empty
    assert pid.first(5).empty and pid.reps(5) == []
    assert again.first(3) == pid.first(3) and hash(again.first(3)) == hash(pid.first(3))
    assert pid.reps(3)[0] != pid.reps(3)[1]


def _hl7_field(field: Any) -> tuple[tuple[tuple[str, ...], ...], ...]:
    if isinstance(field, str):
        return (((field,),),)
    reps: list[tuple[tuple[str, ...], ...]] = []
    for rep in field:
        if isinstance(rep, str):
            reps.append(((rep,),))
        else:
            reps.append(
                tuple((c,) if isinstance(c, str) else tuple(str(s) for s in c) for c in rep)
            )
    return tuple(reps)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.hl7")), ids=lambda p: p.name)
def test_reader_agrees_with_python_hl7(path: Path) -> None:
    """python-hl7 is the reference: same segments, same fields at the same depth."""
    text, _, _ = decode(path.read_bytes())
    ours = read(text)
    # The same text for both: one segment per line, surrounding blanks trimmed.
    lines = [line.strip(" \t") for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    theirs = hl7.parse("\r".join(lines))
    assert len(theirs) == len(ours.segments)
    for mine, ref in zip(ours.segments, theirs, strict=True):
        assert str(ref[0]) == mine.name
        start = 3 if mine.name == "MSH" else 1
        for n in range(start, len(ref)):
            assert mine.regular(n) == _hl7_field(ref[n]), f"{mine.name}-{n}"
