"""C2SP checkpoints in signed notes: reference vectors, round trips, strict parsing."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    MalformedKey,
    MalformedNote,
    Signer,
    UnverifiedNote,
    VerifierKey,
    key_id,
    parse_checkpoint,
    sign_checkpoint,
    split_notes,
    verify_checkpoint,
)

# The reference key pair, text and signature of golang.org/x/mod/sumdb/note
# (note_test.go, BSD-3-Clause), the implementation the signed-note spec describes.
# Ed25519 is deterministic, so our signer must reproduce the signature exactly.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIG_LINE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# The example of https://c2sp.org/tlog-checkpoint.
C2SP_EXAMPLE = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
ORIGIN = "audit.dmp-gateway.example/log"
ROOT = bytes(range(32))
SIGNER = Signer.generate(ORIGIN)


def note(size: int = 1000, root: bytes = ROOT, signers: list[Signer] | None = None) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), signers or [SIGNER])


# --- reference vectors ------------------------------------------------------------


def test_go_reference_keys_round_trip_byte_for_byte() -> None:
    vkey = VerifierKey.from_text(GO_VKEY)
    assert vkey.name == "PeterNeumann"
    assert vkey.key_id == bytes.fromhex("c74f20a3") == key_id("PeterNeumann", vkey.public_key)
    assert vkey.to_text() == GO_VKEY
    signer = Signer.from_text(GO_SKEY)
    assert signer.to_text() == GO_SKEY
    assert signer.verifier_key == vkey


def test_go_reference_signature_is_reproduced_and_verifies() -> None:
    sig = Signer.from_text(GO_SKEY).sign(GO_TEXT)
    assert sig.line() == GO_SIG_LINE
    assert VerifierKey.from_text(GO_VKEY).verifies(GO_TEXT, sig.signature)
    assert not VerifierKey.from_text(GO_VKEY).verifies(GO_TEXT + b"!", sig.signature)


def test_every_mangling_of_the_go_verifier_key_is_rejected() -> None:
    # The same manglings as Go's TestNewVerifier: every proper substring, every
    # character bumped by one, a wrong-length key and an unknown algorithm, both
    # with a key hash adjusted to match.
    for i in range(len(GO_VKEY)):
        for j in range(i + 1, len(GO_VKEY) + 1):
            if (i, j) != (0, len(GO_VKEY)):
                with pytest.raises(MalformedKey):
                    VerifierKey.from_text(GO_VKEY[i:j])
    for i, c in enumerate(GO_VKEY):
        with pytest.raises(MalformedKey):
            VerifierKey.from_text(GO_VKEY[:i] + chr(ord(c) + 1) + GO_VKEY[i + 1 :])
    with pytest.raises(MalformedKey):
        VerifierKey.from_text(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    with pytest.raises(MalformedKey):
        VerifierKey.from_text("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_the_c2sp_example_checkpoint_parses() -> None:
    signed = parse_checkpoint(C2SP_EXAMPLE)
    assert signed.checkpoint.origin == "example.com/behind-the-sofa"
    assert signed.checkpoint.size == 20852163
    assert signed.checkpoint.root == base64.b64decode(
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    )
    assert [s.name for s in signed.signatures] == ["example.com/behind-the-sofa"]
    assert signed.note() == C2SP_EXAMPLE
    with pytest.raises(UnverifiedNote, match="no signature from a known key"):
        verify_checkpoint(C2SP_EXAMPLE, [SIGNER.verifier_key])


# --- signing and verifying --------------------------------------------------------


def test_round_trip() -> None:
    text = note(1000)
    body, sig_line = text.split("\n\n")
    assert body == f"{ORIGIN}\n1000\n{base64.b64encode(ROOT).decode()}"
    assert sig_line.startswith(f"— {ORIGIN} ")
    assert sig_line.endswith("\n")
    assert verify_checkpoint(text, [SIGNER.verifier_key]) == Checkpoint(ORIGIN, 1000, ROOT)
    assert verify_checkpoint(text.encode(), [SIGNER.verifier_key]).size == 1000


def test_empty_tree_checkpoint() -> None:
    empty = Checkpoint(ORIGIN, 0, bytes(32))
    assert verify_checkpoint(sign_checkpoint(empty, [SIGNER]), [SIGNER.verifier_key]) == empty


def test_a_changed_body_fails_the_known_signature() -> None:
    text = note(1000).replace("\n1000\n", "\n1001\n")
    with pytest.raises(UnverifiedNote, match="does not verify"):
        verify_checkpoint(text, [SIGNER.verifier_key])


def test_a_changed_signature_fails() -> None:
    signed = parse_checkpoint(note())
    sig = signed.signatures[0]
    forged = sig.__class__(sig.name, sig.key_id, bytes(64))
    text = signed.text + "\n" + forged.line()
    with pytest.raises(UnverifiedNote, match="does not verify"):
        verify_checkpoint(text, [SIGNER.verifier_key])


def test_a_key_with_the_same_name_but_another_id_is_not_the_signer() -> None:
    stranger = Signer.generate(ORIGIN)
    with pytest.raises(UnverifiedNote, match="no signature from a known key"):
        verify_checkpoint(note(), [stranger.verifier_key])
    with pytest.raises(UnverifiedNote):
        verify_checkpoint(note(), [])


def test_unknown_signatures_are_ignored() -> None:
    witness = Signer.generate("witness.example/w1")
    text = note(signers=[witness, SIGNER])
    assert verify_checkpoint(text, [SIGNER.verifier_key]).size == 1000
    assert verify_checkpoint(text, [witness.verifier_key]).size == 1000


def test_rotation_keeps_old_checkpoints_verifiable() -> None:
    old, new = Signer.generate(ORIGIN), Signer.generate(ORIGIN)
    before = note(1000, signers=[old])
    during = note(2000, signers=[old, new])
    after = note(3000, signers=[new])
    both = [old.verifier_key, new.verifier_key]
    assert [verify_checkpoint(t, both).size for t in (before, during, after)] == [1000, 2000, 3000]
    assert verify_checkpoint(during, [new.verifier_key]).size == 2000
    with pytest.raises(UnverifiedNote):
        verify_checkpoint(before, [new.verifier_key])


def test_bad_inputs_to_the_builders() -> None:
    with pytest.raises(ValueError, match="single lines"):
        Checkpoint("two\nlines", 1, ROOT)
    with pytest.raises(ValueError, match="uint64"):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(ValueError, match="em dash"):
        Checkpoint("— looks.like/a-signature", 1, ROOT)
    with pytest.raises(ValueError, match="32 bytes"):
        Checkpoint(ORIGIN, 1, ROOT[:31])
    with pytest.raises(ValueError, match="signer"):
        sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), [])
    with pytest.raises(MalformedKey, match="key name"):
        Signer.generate("has space")
    with pytest.raises(MalformedKey, match="key name"):
        Signer.generate("has+plus")
    with pytest.raises(MalformedKey):
        Signer.from_text("PRIVATE+KEY+name+00000000+AAAA")


def test_signer_key_text_round_trips() -> None:
    again = Signer.from_text(SIGNER.to_text())
    assert again.verifier_key == SIGNER.verifier_key
    assert VerifierKey.from_text(SIGNER.verifier_key.to_text() + "\n") == SIGNER.verifier_key


# --- strict parsing ---------------------------------------------------------------

GOOD = note()
GOOD_ROOT_LINE = base64.b64encode(ROOT).decode()
GOOD_SIG = GOOD.split("\n\n")[1]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (GOOD[:-1], "blank line"),
        (GOOD.replace("\n\n", "\n"), "blank line"),
        (GOOD.split("\n\n")[0] + "\n\n", "blank line"),
        (GOOD.replace("\n1000\n", "\n1000\r\n"), "control character"),
        (GOOD.replace(ORIGIN, ORIGIN + "\t"), "control character"),
        (GOOD.replace("\n1000\n", "\n01000\n"), "uint64"),
        (GOOD.replace("\n1000\n", "\n+1000\n"), "uint64"),
        (GOOD.replace("\n1000\n", "\n1_000\n"), "uint64"),
        (GOOD.replace("\n1000\n", "\n١٠٠٠\n"), "uint64"),
        (GOOD.replace("\n1000\n", f"\n{2**64}\n"), "uint64"),
        (GOOD.replace("\n1000\n", "\n\n"), "three non-empty lines"),
        (GOOD.replace(GOOD_ROOT_LINE, GOOD_ROOT_LINE[:-2] + "=="), "root hash"),
        (GOOD.replace(GOOD_ROOT_LINE, GOOD_ROOT_LINE[:-1] + "E"), "root hash"),
        (GOOD.replace(GOOD_ROOT_LINE, base64.b64encode(ROOT[:31]).decode()), "32 bytes"),
        (GOOD.replace(GOOD_ROOT_LINE, " " + GOOD_ROOT_LINE), "root hash"),
        (f"{ORIGIN}\n1000\n\n{GOOD_SIG}", "three non-empty lines"),
        (f"\n1000\n{GOOD_ROOT_LINE}\n\n{GOOD_SIG}", "three non-empty lines"),
        (f"— {ORIGIN}\n1000\n{GOOD_ROOT_LINE}\n\n{GOOD_SIG}", "origin"),
        (GOOD.replace("— ", "- "), "em dash"),
        (GOOD.replace("— ", "—"), "em dash"),
        (GOOD.replace(f"— {ORIGIN} ", "— a+b "), "key name"),
        (GOOD.replace(f"— {ORIGIN} ", "—  "), "key name"),
        (GOOD.replace(f"— {ORIGIN} ", f"— {ORIGIN}  "), "base64"),
        (GOOD.split("\n\n")[0] + "\n\n— name AAAA\n", "shorter than a key ID"),
        (GOOD + GOOD_SIG * 100, "too many signatures"),
        ("x" * 70_000, "too large"),
        ("", "blank line"),
    ],
)
def test_malformed_notes_are_rejected_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(MalformedNote, match=reason):
        parse_checkpoint(text)


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(MalformedNote, match="UTF-8"):
        parse_checkpoint(GOOD.encode().replace(b"1000", b"\xff\xfe"))
    with pytest.raises(MalformedNote, match="UTF-8"):
        parse_checkpoint(GOOD.replace("1000", "\udc80"))


def test_extension_lines_are_kept_and_signed() -> None:
    cp = Checkpoint(ORIGIN, 5, ROOT, ("ext one",))
    text = sign_checkpoint(cp, [SIGNER])
    assert verify_checkpoint(text, [SIGNER.verifier_key]) == cp
    with pytest.raises(UnverifiedNote):
        verify_checkpoint(text.replace("ext one", "ext two"), [SIGNER.verifier_key])


@given(st.one_of(st.text(), st.binary()))
def test_parsing_arbitrary_input_never_crashes(text: str | bytes) -> None:
    with contextlib.suppress(MalformedNote):
        parse_checkpoint(text)


@given(position=st.integers(0, len(GOOD) - 1), replacement=st.characters())
def test_any_single_character_change_is_caught(position: int, replacement: str) -> None:
    changed = GOOD[:position] + replacement + GOOD[position + 1 :]
    if changed == GOOD:
        return
    with pytest.raises(CheckpointError):
        verify_checkpoint(changed, [SIGNER.verifier_key])


# --- checkpoint files -------------------------------------------------------------


def test_split_notes_recovers_concatenated_checkpoints() -> None:
    notes = [note(1000), note(2000, signers=[SIGNER, Signer.generate("w.example")]), note(3000)]
    assert split_notes("".join(notes)) == notes
    assert split_notes("\n".join(notes) + "\n\n") == notes
    assert split_notes("") == []


def test_split_notes_leaves_junk_for_the_parser_to_reject() -> None:
    chunks = split_notes(note(1000) + "junk without signature\n")
    assert len(chunks) == 2
    with pytest.raises(MalformedNote):
        parse_checkpoint(chunks[1])
    truncated = split_notes(note(1000)[:-1])
    with pytest.raises(MalformedNote):
        parse_checkpoint(truncated[0])
