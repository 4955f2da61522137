"""A minimal blocking MLLP client: send messages on one connection, read their ACKs.

For tests, benchmarks and troubleshooting (``python -m gateway.mllp.client``-style use
from code); production senders bring their own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from gateway.mllp.framing import FrameDecoder, frame


class MllpClient:
    def __init__(self, host: str, port: int, *, timeout: float = 60.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.decoder = FrameDecoder()
        self._acks: list[bytes] = []

    def __enter__(self) -> MllpClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, message: bytes) -> None:
        self.sock.sendall(frame(message))

    def receive(self) -> bytes:
        """The next ACK (blocks until a whole frame arrived)."""
        while not self._acks:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the listener closed the connection")
            self._acks.extend(f.payload for f in self.decoder.feed(data))
        return self._acks.pop(0)

    def exchange(self, message: bytes) -> bytes:
        self.send(message)
        return self.receive()

    def pipeline(self, messages: Iterable[bytes]) -> list[bytes]:
        """Send all, then read all ACKs (in order)."""
        sent = 0
        for m in messages:
            self.send(m)
            sent += 1
        return [self.receive() for _ in range(sent)]
