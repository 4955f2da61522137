"""MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 2): ``<VT> message <FS><CR>``.

:class:`FrameDecoder` is pure: feed it the bytes a connection delivers, in any
chunking, and it returns the frames completed so far. What real connections do, and
what it makes of it:

- bytes between frames (line feeds, keep-alive blanks, garbage) are skipped and
  counted (:attr:`FrameDecoder.skipped`);
- ``<FS>`` not followed by ``<CR>``: the frame is accepted (some senders omit the CR);
- a ``<VT>`` inside a frame: the frame so far is *broken* (its end never came) and a new
  frame starts; a broken frame must never be processed as a whole message;
- a frame longer than ``max_bytes``: *broken* ("too large", code ``GW-1013`` like an
  HTTP body over the limit), its first ``max_bytes`` kept, the rest skipped up to its
  ``<FS>``;
- a connection that ends mid-frame: :attr:`FrameDecoder.pending` is True; the caller
  drops the partial message (no ACK was sent, so the sender keeps it and resends).
"""

from __future__ import annotations

from dataclasses import dataclass

VT = 0x0B
FS = 0x1C
CR = 0x0D
START = bytes([VT])
END = bytes([FS, CR])
GW_TOO_LARGE = "GW-1013"
"""The gateway code of a payload over a size limit (as :mod:`gateway.api.limits`)."""


def frame(message: bytes) -> bytes:
    """``message`` framed for MLLP."""
    return START + message + END


@dataclass(frozen=True, slots=True)
class Frame:
    payload: bytes
    broken: str | None = None  # why the frame cannot be taken as a whole message
    code: str | None = None  # the gateway code of that refusal, when it has its own

    @property
    def ok(self) -> bool:
        return self.broken is None


class FrameDecoder:
    def __init__(self, max_bytes: int = 10 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._inside = False
        self._after_end = False  # saw <FS>, waiting for <CR>
        self._overflow = False  # skipping the rest of a too-large frame
        self.skipped = 0

    @property
    def pending(self) -> bool:
        """True when a frame was started and not finished."""
        return self._inside or self._after_end

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        i, n = 0, len(data)
        while i < n:
            if self._after_end:
                self._after_end = False
                if data[i] == CR:
                    i += 1
                continue
            if not self._inside:
                start = data.find(START, i)
                if start < 0:
                    self.skipped += n - i
                    return frames
                self.skipped += start - i
                i = start + 1
                self._inside, self._overflow = True, False
                self._buffer.clear()
                continue
            end = data.find(bytes([FS]), i)
            restart = data.find(START, i)
            if restart >= 0 and (end < 0 or restart < end):
                self._take(data[i:restart])
                frames.append(
                    Frame(bytes(self._buffer), "a new frame started before this one ended")
                )
                self._buffer.clear()
                self._overflow = False
                i = restart + 1
                continue
            if end < 0:
                self._take(data[i:])
                return frames
            self._take(data[i:end])
            frames.append(self._finish())
            self._inside, self._after_end = False, True
            i = end + 1
        return frames

    def _take(self, chunk: bytes) -> None:
        room = self.max_bytes - len(self._buffer)
        if len(chunk) > room:
            self._buffer += chunk[: max(room, 0)]
            self._overflow = True
        else:
            self._buffer += chunk

    def _finish(self) -> Frame:
        payload = bytes(self._buffer)
        self._buffer.clear()
        if self._overflow:
            return Frame(
                payload,
                f"the frame exceeds {self.max_bytes} bytes, the limit of this listener: "
                "it was not processed",
                GW_TOO_LARGE,
            )
        return Frame(payload)
