"""MLLP framing, pure: any chunking gives the same frames; broken frames are flagged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.mllp.framing import Frame, FrameDecoder, frame

MESSAGES = st.lists(
    st.binary(max_size=200).map(lambda b: bytes(c for c in b if c not in (0x0B, 0x1C))),
    min_size=1,
    max_size=5,
)


def _feed(
    data: bytes, cuts: list[int], max_bytes: int = 10_000
) -> tuple[list[Frame], FrameDecoder]:
    decoder = FrameDecoder(max_bytes)
    frames: list[Frame] = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        frames.extend(decoder.feed(data[start:cut]))
        start = cut
    return frames, decoder


@given(MESSAGES, st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_any_chunking_gives_the_same_frames(messages: list[bytes], cuts: list[int]) -> None:
    data = b"\r\n".join(frame(m) for m in messages)
    frames, decoder = _feed(data, cuts)
    assert frames == [Frame(m) for m in messages]
    assert not decoder.pending


@given(st.binary(max_size=500), st.lists(st.integers(min_value=0, max_value=600), max_size=10))
def test_random_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    frames, _decoder = _feed(data, cuts, max_bytes=64)
    for f in frames:
        assert len(f.payload) <= 64
        assert b"\x0b" not in f.payload and b"\x1c" not in f.payload


def test_junk_between_frames_is_skipped_and_counted() -> None:
    frames, decoder = _feed(b"xx" + frame(b"MSH|1") + b"\n" + frame(b"MSH|2"), [])
    assert frames == [Frame(b"MSH|1"), Frame(b"MSH|2")]
    assert decoder.skipped == 3


def test_a_start_block_inside_a_frame_breaks_it() -> None:
    frames, _ = _feed(b"\x0bMSH|trunc" + frame(b"MSH|whole"), [])
    assert frames[0].payload == b"MSH|trunc" and not frames[0].ok
    assert frames[1] == Frame(b"MSH|whole")


def test_an_end_block_without_cr_is_accepted() -> None:
    frames, _ = _feed(b"\x0bMSH|1\x1c\x0bMSH|2\x1c\r", [])
    assert frames == [Frame(b"MSH|1"), Frame(b"MSH|2")]


def test_an_oversized_frame_is_broken_and_the_next_one_is_fine() -> None:
    frames, _ = _feed(frame(b"A" * 100) + frame(b"MSH|ok"), [3, 50], max_bytes=10)
    assert frames[0].payload == b"A" * 10 and "exceeds 10 bytes" in (frames[0].broken or "")
    assert frames[0].code == "GW-1013"
    assert frames[1] == Frame(b"MSH|ok")


def test_an_unfinished_frame_is_pending() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x0bMSH|half") == []
    assert decoder.pending
