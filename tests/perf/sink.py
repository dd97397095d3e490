"""A fast webhook receiver for benchmarks, in a process of its own.

The test suite's ``WebhookSink`` (``tests/conftest.py``) records every request in the test's own
process on an HTTP/1.0 thread-per-connection server: right for asserting on what arrived, but
at hundreds of requests a second it measures itself (and the benchmark's GIL) rather than the
sender. This one is an asyncio HTTP/1.1 server with keep-alive that only counts requests and
their distinct ``webhook-id`` headers, so a benchmark can check that nothing was lost or sent
twice.

    sink = FastSink()  # serving on sink.url
    total, distinct = sink.counts()
    sink.close()
"""

import asyncio
import multiprocessing
import os
from multiprocessing.connection import Connection

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n"
    b'Connection: keep-alive\r\n\r\n{"ok": true}'
)


def _serve(pipe: Connection) -> None:
    total = 0
    ids: set[bytes] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal total
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        ids.add(value.strip())
                if length:
                    await reader.readexactly(length)
                total += 1
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        pipe.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "counts":
                pipe.send((total, len(ids)))
            else:
                os._exit(0)  # open keep-alive connections end with the process

    asyncio.run(main())


class FastSink:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.url = f"http://127.0.0.1:{self._pipe.recv()}"

    def counts(self) -> tuple[int, int]:
        """Requests received, and distinct ``webhook-id`` values among them."""
        self._pipe.send("counts")
        return self._pipe.recv()

    def close(self) -> None:
        self._pipe.send("stop")
        self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()
