"""The offline verifier against generated exports, untouched and tampered with."""

from __future__ import annotations

import ast
import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gateway.audit
from gateway.audit.checkpoint import Checkpoint, Signer, sign_checkpoint
from gateway.audit.merkle import leaf_hash
from gateway.audit.verifier import (
    ExportError,
    Verdict,
    format_export_line,
    parse_export,
    verify,
    verify_export,
)

from . import audit_reference as ref

ORIGIN = "audit.dmp-gateway.example/log"
SIGNER = Signer.generate(ORIGIN)
KEYS = [SIGNER.verifier_key]
N, EVERY = 2500, 500  # checkpoints at 0, 500, ..., 2500


def audit_event(i: int) -> bytes:
    event = {
        "resourceType": "AuditEvent",
        "id": f"ae-{i}",
        "type": {"code": "rest"},
        "action": "R",
        "recorded": f"2026-01-01T00:00:{i % 60:02d}Z",
        "outcome": "0",
        "agent": [{"who": {"identifier": {"value": f"8100{i:07d}"}}, "requestor": True}],
        "entity": [{"what": {"reference": f"Patient/{i % 97}"}}],
    }
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


ENTRIES = [audit_event(i) for i in range(N)]
LEAVES = [leaf_hash(e) for e in ENTRIES]


def checkpoint(size: int, signer: Signer = SIGNER, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, ref.mth(ENTRIES[:size])), [signer])


CHECKPOINTS = [checkpoint(size) for size in range(0, N + 1, EVERY)]
LINES = [format_export_line(i, e) for i, e in enumerate(ENTRIES)]
HINTED = [format_export_line(i, e, LEAVES[i]) for i, e in enumerate(ENTRIES)]


def run(lines: list[bytes], checkpoints: list[str] | None = None) -> Verdict:
    return verify_export(lines, "".join(checkpoints or CHECKPOINTS), KEYS)


def flip_byte(line: bytes) -> bytes:
    at = line.index(b'"action":"R"') + len(b'"action":"')
    return line[:at] + b"C" + line[at + 1 :]


# --- untouched logs ---------------------------------------------------------------


def test_an_untouched_log_verifies() -> None:
    for lines in (LINES, HINTED):
        verdict = run(lines)
        assert verdict.ok, verdict.message
        assert verdict.first_bad_seq is None
        assert verdict.bad_checkpoint is None
        assert (verdict.entries_checked, verdict.checkpoints_checked) == (N, 6)
        assert verdict.verified_size == N


def test_entries_after_the_last_checkpoint_are_reported_but_not_an_error() -> None:
    verdict = run(LINES, CHECKPOINTS[:-1])
    assert verdict.ok
    assert verdict.verified_size == 2000
    assert "the last 500 entries are not yet under a checkpoint" in verdict.message


def test_without_any_checkpoint_nothing_is_proven() -> None:
    verdict = verify_export(LINES, "", KEYS)
    assert not verdict.ok
    assert "no checkpoint" in verdict.message


def test_checkpoint_order_in_the_file_does_not_matter() -> None:
    assert run(LINES, CHECKPOINTS[::-1]).ok


# --- tampering with entries -------------------------------------------------------


@pytest.mark.parametrize("seq", [0, 499, 500, 1234, 2499])
def test_a_changed_byte_is_found_exactly_with_stored_leaf_hashes(seq: int) -> None:
    lines = list(HINTED)
    lines[seq] = flip_byte(lines[seq])
    verdict = run(lines)
    assert not verdict.ok
    assert verdict.first_bad_seq == seq
    assert verdict.verified_size == seq // EVERY * EVERY


@pytest.mark.parametrize("seq", [0, 499, 500, 1234, 2499])
def test_a_changed_byte_is_placed_after_the_last_good_checkpoint_without_them(seq: int) -> None:
    lines = list(LINES)
    lines[seq] = flip_byte(lines[seq])
    verdict = run(lines)
    assert not verdict.ok
    assert verdict.first_bad_seq == seq // EVERY * EVERY
    assert f"seq {seq // EVERY * EVERY}..{seq // EVERY * EVERY + EVERY - 1}" in verdict.message


def test_a_deleted_entry_in_the_middle_is_a_gap() -> None:
    verdict = run(LINES[:1234] + LINES[1235:])
    assert not verdict.ok
    assert verdict.first_bad_seq == 1234
    assert "expected seq 1234, found seq 1235" in verdict.message


def test_a_deleted_entry_hidden_by_renumbering_breaks_the_next_checkpoint() -> None:
    kept = ENTRIES[:1234] + ENTRIES[1235:]
    verdict = run([format_export_line(i, e) for i, e in enumerate(kept)])
    assert not verdict.ok
    assert verdict.first_bad_seq == 1000


def test_deleted_newest_entries_are_missing() -> None:
    verdict = run(LINES[:-7])
    assert not verdict.ok
    assert verdict.first_bad_seq == N - 7
    assert "missing" in verdict.message


def test_reordered_lines_are_out_of_sequence() -> None:
    lines = list(LINES)
    lines[700], lines[701] = lines[701], lines[700]
    verdict = run(lines)
    assert not verdict.ok
    assert verdict.first_bad_seq == 700


def test_swapped_entry_contents_are_found() -> None:
    swapped = list(ENTRIES)
    swapped[700], swapped[900] = swapped[900], swapped[700]
    plain = run([format_export_line(i, e) for i, e in enumerate(swapped)])
    hinted = run([format_export_line(i, e, LEAVES[i]) for i, e in enumerate(swapped)])
    assert not plain.ok
    assert plain.first_bad_seq == 500
    assert not hinted.ok
    assert hinted.first_bad_seq == 700


def test_a_duplicated_line_is_out_of_sequence() -> None:
    verdict = run([*LINES[:801], LINES[800], *LINES[801:]])
    assert not verdict.ok
    assert verdict.first_bad_seq == 801
    assert "duplicate" in verdict.message


def test_a_stored_leaf_hash_that_was_changed_is_reported() -> None:
    lines = list(HINTED)
    lines[42] = format_export_line(42, ENTRIES[42], LEAVES[43])
    verdict = run(lines)
    assert not verdict.ok
    assert verdict.first_bad_seq == 42
    assert verdict.verified_size == N  # the entries themselves are intact


def test_an_unreadable_line_is_reported_at_its_place() -> None:
    lines = list(LINES)
    lines[321] = lines[321].replace(b'{"seq":321,', b'{"seq": 321,')
    verdict = run(lines)
    assert not verdict.ok
    assert verdict.first_bad_seq == 321
    assert "export line 322" in verdict.message


# --- tampering with checkpoints ---------------------------------------------------


def test_a_checkpoint_signed_by_another_key_is_rejected() -> None:
    cps = list(CHECKPOINTS)
    cps[2] = checkpoint(1000, signer=Signer.generate(ORIGIN))
    verdict = run(LINES, cps)
    assert not verdict.ok
    assert verdict.bad_checkpoint == 2
    assert verdict.first_bad_seq is None
    assert "no signature from a known key" in verdict.message


def test_a_checkpoint_edited_after_signing_is_rejected() -> None:
    cps = list(CHECKPOINTS)
    cps[3] = cps[3].replace("\n1500\n", "\n1499\n")
    verdict = run(LINES, cps)
    assert not verdict.ok
    assert verdict.bad_checkpoint == 3
    assert "does not verify" in verdict.message


def test_a_validly_signed_checkpoint_that_forks_the_log_is_caught() -> None:
    cps = list(CHECKPOINTS)
    cps[2] = sign_checkpoint(Checkpoint(ORIGIN, 1000, ref.mth(ENTRIES[1:1001])), [SIGNER])
    verdict = run(LINES, cps)
    assert not verdict.ok
    assert verdict.bad_checkpoint == 2
    assert verdict.first_bad_seq is None  # the later checkpoints vouch for the entries
    assert "forked" in verdict.message


def test_two_checkpoints_of_one_size_with_different_roots_are_a_fork() -> None:
    fork = sign_checkpoint(Checkpoint(ORIGIN, 1000, bytes(32)), [SIGNER])
    verdict = run(LINES, [*CHECKPOINTS, fork])
    assert not verdict.ok
    assert verdict.bad_checkpoint == len(CHECKPOINTS)


def test_a_checkpoint_from_another_log_is_rejected() -> None:
    other = checkpoint(1000, origin="another.example/log")
    verdict = run(LINES, [*CHECKPOINTS, other])
    assert not verdict.ok
    assert verdict.bad_checkpoint == len(CHECKPOINTS)
    pinned = verify(parse_export(LINES), CHECKPOINTS, KEYS, origin="another.example/log")
    assert not pinned.ok
    assert pinned.bad_checkpoint == 0


def test_rotated_keys_verify_old_and_new_checkpoints() -> None:
    new = Signer.generate(ORIGIN)
    cps = [checkpoint(s, signer=SIGNER if s < 1500 else new) for s in range(0, N + 1, EVERY)]
    both = [SIGNER.verifier_key, new.verifier_key]
    assert verify_export(LINES, "".join(cps), both).ok
    only_new = verify_export(LINES, "".join(cps), [new.verifier_key])
    assert not only_new.ok
    assert only_new.bad_checkpoint == 0


# --- the export format ------------------------------------------------------------


def test_json_entries_are_embedded_verbatim() -> None:
    line = format_export_line(7, b'{"a":1}', b"\x01" * 32)
    assert line == b'{"seq":7,"leaf":"' + b"AQEB" * 10 + b'AQE=","entry":{"a":1}}\n'
    assert json.loads(line) == {"seq": 7, "leaf": "AQEB" * 10 + "AQE=", "entry": {"a": 1}}
    assert list(parse_export([line])) == [(7, b'{"a":1}', b"\x01" * 32)]


@pytest.mark.parametrize("entry", [b"", b"plain", b'{"a":\n1}', b"{\xff}", b"[1]"])
def test_other_entries_are_base64(entry: bytes) -> None:
    line = format_export_line(3, entry)
    assert b'"entry_b64":"' in line
    assert list(parse_export([line])) == [(3, entry, None)]


@pytest.mark.parametrize(
    "line",
    [
        b'{"seq":1,"entry":{"a":1}}',  # no newline
        b'{"seq":01,"entry":{"a":1}}\n',
        b'{"seq":-1,"entry":{"a":1}}\n',
        b'{"entry":{"a":1},"seq":1}\n',
        b'{"seq":1,"entry":[1]}\n',
        b'{"seq":1,"entry_b64":"not base64!"}\n',
        b'{"seq":1,"entry_b64":AAAA}\n',
        b'{"seq":1,"leaf":"short=","entry":{}}\n',
        b"\n",
    ],
)
def test_malformed_export_lines_are_rejected(line: bytes) -> None:
    with pytest.raises(ExportError, match="export line 1"):
        list(parse_export([line]))


@given(
    seq=st.integers(0, 10**18),
    entry=st.binary(),
    leaf=st.none() | st.binary(min_size=32, max_size=32),
)
def test_export_lines_round_trip(seq: int, entry: bytes, leaf: bytes | None) -> None:
    assert list(parse_export([format_export_line(seq, entry, leaf)])) == [(seq, entry, leaf)]


@given(st.lists(st.binary(max_size=60), max_size=5))
def test_parsing_arbitrary_lines_never_crashes(lines: list[bytes]) -> None:
    with contextlib.suppress(ExportError):
        list(parse_export(lines))


@settings(deadline=None, max_examples=60)
@given(seq=st.integers(0, N - 1), offset=st.integers(0, 10_000), value=st.integers(0, 255))
def test_any_changed_byte_of_any_entry_is_detected(seq: int, offset: int, value: int) -> None:
    entry = bytearray(ENTRIES[seq])
    entry[offset % len(entry)] = value
    if bytes(entry) == ENTRIES[seq]:
        return
    lines = list(LINES)
    lines[seq] = format_export_line(seq, bytes(entry))
    verdict = run(lines)
    assert not verdict.ok
    assert verdict.first_bad_seq == seq // EVERY * EVERY


# --- the verifier stays readable in one sitting -----------------------------------


def gateway_modules_imported_by(module: str) -> set[str]:
    source = Path(gateway.audit.__file__).with_name(f"{module}.py").read_text()
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.audit":
            found.update(f"gateway.audit.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gateway"):
            found.add(str(node.module))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gateway"))
    return found


def test_the_verifier_imports_only_merkle_and_checkpoint_from_the_gateway() -> None:
    assert gateway_modules_imported_by("verifier") == {
        "gateway.audit.merkle",
        "gateway.audit.checkpoint",
    }
    assert gateway_modules_imported_by("checkpoint") == set()
    assert gateway_modules_imported_by("merkle") == set()
