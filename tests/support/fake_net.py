"""Real loopback servers for reliability tests: a minimal AMI server (login, Ping, list actions, and
events the test pushes) and a TCP proxy that can hang (accepts, reads, never answers), placed in front
of the real Redis so a node starts normally and then sees its Redis stop answering."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

_LIST_ACTIONS = {"CoreShowChannels": "CoreShowChannelsComplete", "QueueStatus": "QueueStatusComplete"}


def _frame(headers: Mapping[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


class FakeAmi:
    """Answers Login, Ping and the list actions the node sends at connect (with empty lists), every
    other action with Success, and sends FullyBooted after login; :meth:`event` pushes an event."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self.actions: list[str] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def event(self, name: str, **headers: str) -> None:
        for w in self._writers:
            w.write(_frame({"Event": name, **headers}))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                msg: dict[str, str] = {}
                while (line := (await reader.readline()).decode().rstrip("\r\n")) != "":
                    k, _, v = line.partition(":")
                    msg[k.strip()] = v.strip()
                if not msg:
                    if reader.at_eof():
                        return
                    continue
                action, aid = msg.get("Action", ""), msg.get("ActionID", "")
                self.actions.append(action)
                if action in _LIST_ACTIONS:
                    writer.write(_frame({"Response": "Success", "ActionID": aid, "EventList": "start"}))
                    writer.write(
                        _frame({"Event": _LIST_ACTIONS[action], "ActionID": aid, "EventList": "Complete"})
                    )
                else:
                    writer.write(_frame({"Response": "Success", "ActionID": aid, "Message": "ok"}))
                if action == "Login":
                    self._writers.append(writer)
                    writer.write(_frame({"Event": "FullyBooted", "Status": "Fully Booted"}))
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()


class HangingProxy:
    """A TCP proxy to ``target``; after :meth:`hang` it still accepts and reads but forwards nothing
    either way (what a Redis stuck in a long command, or a half-dead network path, looks like)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.hung = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def hang(self) -> None:
        self.hung = True

    def release(self) -> None:
        self.hung = False

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            up_r, up_w = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.append(up_w)
        a = asyncio.create_task(self._pipe(reader, up_w))
        b = asyncio.create_task(self._pipe(up_r, writer))
        self._tasks |= {a, b}
        try:
            await asyncio.gather(a, b, return_exceptions=True)
        finally:
            writer.close()
            up_w.close()

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        held: list[bytes] = []
        try:
            while data := await src.read(65536):
                if self.hung:
                    held.append(data)  # swallowed while hung, delivered after (a stall, not a cut)
                    continue
                for chunk in [*held, data]:
                    dst.write(chunk)
                held.clear()
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            dst.close()
