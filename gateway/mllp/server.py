"""The MLLP listener: an asyncio TCP server that answers every HL7 v2 message with its ACK.

One connection carries any number of messages, processed in order (HL7 original-mode
acknowledgement: the sender waits for the ACK of a message before the next, or at least
expects the ACKs in order). Each message runs in a worker thread (the pipeline does
blocking database I/O); the event loop only frames bytes. Connections are independent,
so several senders are served at once, up to ``workers`` messages in parallel.

A connection that closes mid-frame loses that partial frame only (logged); a connection
idle for ``idle_timeout`` seconds is closed. The listener stops cleanly on
:meth:`MllpServer.close` (pending messages finish; nothing half-written).

MLLP carries no credentials, and whoever reaches the port writes as the listener's
client: a peer is served only if its address is in ``allow`` (loopback only unless
configured), and at most ``max_connections`` at once. Anyone else is closed at once,
before a byte is read, and logged with their address (never with what they sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from gateway.mllp.framing import FrameDecoder, frame

log = logging.getLogger("gateway.mllp")
READ_SIZE = 64 * 1024
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)


def peer_allowed(address: str, allow: Sequence[Network]) -> bool:
    """Whether a peer's IP address is in one of the ``allow`` networks (an IPv4 address
    mapped into IPv6, ``::ffff:a.b.c.d``, is judged as the IPv4 one)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in allow)


class Handler(Protocol):
    def message(self, payload: bytes) -> bytes: ...

    def broken(self, payload: bytes, reason: str, code: str | None = None) -> bytes: ...


class MllpServer:
    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 2575,
        workers: int = 8,
        max_frame_bytes: int = 10 * 1024 * 1024,
        idle_timeout: float | None = 600.0,
        allow: Sequence[Network] = LOOPBACK,
        max_connections: int = 64,
        reuse_port: bool = False,
    ) -> None:
        self.handler = handler
        self.allow = tuple(allow)
        self.max_connections = max_connections
        self.refused = 0
        self.host = host
        self.port = port
        self.max_frame_bytes = max_frame_bytes
        self.idle_timeout = idle_timeout
        #: SO_REUSEPORT: several listener processes share the port, the kernel spreading
        #: new connections among them
        self.reuse_port = reuse_port
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mllp")
        self._server: asyncio.Server | None = None
        self._tasks: dict[asyncio.Task[None], bool] = {}  # connection task -> busy
        self.connections = 0
        self.dropped_partial = 0

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with ``port=0``)."""
        assert self._server is not None
        assert self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection,
            self.host,
            self.port,
            limit=READ_SIZE,
            reuse_port=self.reuse_port or None,
        )

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self, grace: float = 30.0) -> None:
        """Stop accepting; let messages being processed finish (up to ``grace`` seconds)
        and send their ACKs; close idle connections."""
        if self._server is not None:
            self._server.close()
        for task, busy in list(self._tasks.items()):
            if not busy:
                task.cancel()
        if self._tasks:
            _done, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._server is not None:
            await self._server.wait_closed()
        self._executor.shutdown(wait=True)

    async def _read(self, reader: asyncio.StreamReader) -> bytes:
        if self.idle_timeout is None:
            return await reader.read(READ_SIZE)
        return await asyncio.wait_for(reader.read(READ_SIZE), self.idle_timeout)

    def _admit(self, writer: asyncio.StreamWriter) -> bool:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
        if not peer_allowed(address, self.allow):
            reason = "address not allowed"
        elif len(self._tasks) >= self.max_connections:
            reason = f"{self.max_connections} connections already open"
        else:
            return True
        self.refused += 1
        log.warning("mllp connection refused", extra={"peer": address, "reason": reason})
        return False

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._admit(writer):
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks[task] = False
        self.connections += 1
        try:
            await self._serve(reader, writer, task)
        except asyncio.CancelledError:
            pass  # shutting down: an idle connection is closed
        except ConnectionError:
            log.info("mllp connection lost")
        finally:
            del self._tasks[task]
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        task: asyncio.Task[None],
    ) -> None:
        decoder = FrameDecoder(self.max_frame_bytes)
        loop = asyncio.get_running_loop()
        while True:
            try:
                data = await self._read(reader)
            except (TimeoutError, ConnectionError):
                break
            if not data:
                break
            for item in decoder.feed(data):
                self._tasks[task] = True
                try:
                    if item.ok:
                        ack = await loop.run_in_executor(
                            self._executor, self.handler.message, item.payload
                        )
                    else:
                        ack = await loop.run_in_executor(
                            self._executor,
                            self.handler.broken,
                            item.payload,
                            item.broken or "",
                            item.code,
                        )
                    writer.write(frame(ack))
                    await writer.drain()
                finally:
                    self._tasks[task] = False
        if decoder.pending:
            self.dropped_partial += 1
            log.warning("mllp connection closed mid-message; partial frame dropped")
