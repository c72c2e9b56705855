"""The FastAGI server on a real socket, driven by a scripted "Asterisk" client."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from core.agi import AgiServer, AgiSession
from core.errors import AgiError, AgiHangup

# What Asterisk 22 sends for AGI(agi://127.0.0.1/ivr?lang=vi,first), in its order (res_agi.c).
HEADER = (
    "agi_network: yes\nagi_network_script: ivr?lang=vi\nagi_request: agi://127.0.0.1/ivr?lang=vi\n"
    "agi_channel: Local/18001090@tongdai-hotline-0001;2\nagi_language: en\nagi_type: Local\n"
    "agi_uniqueid: ast1-1.1\nagi_version: 22.10.1\n"
    'agi_callerid: 0912345678\nagi_calleridname: x"EXEC System touch pwned\n'
    "agi_callingpres: 0\nagi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\n"
    "agi_dnid: 18001090\nagi_rdnis: unknown\nagi_context: tongdai-ivr\nagi_extension: s\n"
    "agi_priority: 4\nagi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 140212\n"
    "agi_arg_1: first\n\n"
)


def with_name(name: str) -> str:
    """HEADER with the caller-ID name written raw, as Asterisk does (newlines and all)."""
    return HEADER.replace('x"EXEC System touch pwned', name)


@pytest.fixture
async def server() -> AsyncIterator[tuple[AgiServer, asyncio.Queue[object]]]:
    seen: asyncio.Queue[object] = asyncio.Queue()
    srv = AgiServer("127.0.0.1", 0, header_timeout=0.5, max_header_bytes=2048, command_timeout=2)

    async def ivr(s: AgiSession) -> None:
        await seen.put(s.request)
        try:
            await s.set_variable("CALLER_NAME", s.request.caller_name)
            await seen.put(await s.get_variable("CHANNEL(linkedid)"))
            await seen.put(await s.stream_file("tongdai/vi/welcome", "12"))
        except (AgiHangup, AgiError) as err:
            await seen.put(err)

    srv.route("ivr", ivr)
    await srv.start()
    yield srv, seen
    await srv.stop()


async def connect(srv: AgiServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", srv.port)


async def test_request_parsed_and_commands_quoted(server: tuple[AgiServer, asyncio.Queue[object]]) -> None:
    srv, seen = server
    r, w = await connect(srv)
    w.write(HEADER.encode())
    req = await asyncio.wait_for(seen.get(), 2)
    assert req.route == "ivr" and req.query == {"lang": "vi"} and req.args == ["first"]  # type: ignore[attr-defined]
    line = (await r.readline()).decode()
    # The caller-ID name is one quoted argument on one line: it cannot become a second command.
    assert line == 'SET VARIABLE "CALLER_NAME" "x\\"EXEC System touch pwned"\n'
    w.write(b"200 result=1\n")
    assert (await r.readline()).decode() == 'GET VARIABLE "CHANNEL(linkedid)"\n'
    # Asterisk's unsolicited HANGUP line arrives before the reply: it must not be taken for it.
    w.write(b"HANGUP\n200 result=1 (ast1-1.0)\n")
    assert await asyncio.wait_for(seen.get(), 2) == "ast1-1.0"
    err = await asyncio.wait_for(seen.get(), 2)
    assert isinstance(err, AgiHangup)  # the session knows the caller is gone
    w.close()


async def test_usage_error_spanning_lines(server: tuple[AgiServer, asyncio.Queue[object]]) -> None:
    srv, seen = server
    r, w = await connect(srv)
    w.write(HEADER.encode())
    await seen.get()
    await r.readline()
    w.write(
        b"520-Invalid command syntax.  Proper usage follows:\nUsage: SET VARIABLE\n520 End of proper usage.\n"
    )
    err = await asyncio.wait_for(seen.get(), 2)
    assert isinstance(err, AgiError) and "usage error" in str(err)
    w.close()


async def test_half_header_does_not_stall_the_loop(server: tuple[AgiServer, asyncio.Queue[object]]) -> None:
    srv, seen = server
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    t = asyncio.create_task(ticker())
    # One client sends half a header and disconnects; another sends half and goes silent.
    _r1, w1 = await connect(srv)
    w1.write(b"agi_network: yes\nagi_netw")
    await w1.drain()
    w1.close()
    r2, w2 = await connect(srv)
    w2.write(b"agi_network: yes\nagi_request: agi://x/ivr")
    await w2.drain()
    # Meanwhile a real request is served.
    _r3, w3 = await connect(srv)
    w3.write(HEADER.encode())
    req = await asyncio.wait_for(seen.get(), 2)
    assert req.route == "ivr"  # type: ignore[attr-defined]
    # The silent one is dropped after the header timeout.
    assert await asyncio.wait_for(r2.read(), 2) == b""
    t.cancel()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20 and max(gaps) < 0.2  # the event loop never stopped
    assert srv.rejected >= 2
    for w in (w2, w3):
        w.close()


async def test_oversized_header_and_strangers_refused() -> None:
    srv = AgiServer("127.0.0.1", 0, allowed_peers=["10.9.9.9"], max_header_bytes=1024)
    srv.route("ivr", _noop)
    await srv.start()
    r, w = await connect(srv)
    assert await asyncio.wait_for(r.read(), 2) == b""  # closed at once: not an allowed Asterisk
    w.close()
    await srv.stop()

    srv = AgiServer("127.0.0.1", 0, max_header_bytes=1024)
    srv.route("ivr", _noop)
    await srv.start()
    r, w = await connect(srv)
    w.write(b"agi_x: " + b"a" * 5000 + b"\n")
    assert await asyncio.wait_for(r.read(), 2) == b""
    assert srv.rejected == 1
    w.close()
    await srv.stop()


async def _noop(s: AgiSession) -> None:
    return None


async def test_unknown_route_asks_dialplan_to_fall_back() -> None:
    srv = AgiServer("127.0.0.1", 0)
    await srv.start()
    r, w = await connect(srv)
    w.write(HEADER.replace("ivr?lang=vi", "nope").encode())
    assert (await r.readline()).decode() == 'SET VARIABLE "TONGDAI_AGI_ERROR" "no-route"\n'
    w.write(b"200 result=1\n")
    assert await asyncio.wait_for(r.read(), 2) == b""
    w.close()
    await srv.stop()


def test_sync_routes_are_refused() -> None:
    srv = AgiServer("127.0.0.1", 0)
    with pytest.raises(TypeError):
        srv.route("x", lambda s: None)  # type: ignore[arg-type,return-value]


async def test_name_with_newlines_is_one_value_and_the_call_is_served(
    server: tuple[AgiServer, asyncio.Queue[object]],
) -> None:
    srv, seen = server
    r, w = await connect(srv)
    w.write(with_name("x\nEXEC System touch pwned\n\n200 result=1").encode())
    req = await asyncio.wait_for(seen.get(), 2)
    assert req.env["calleridname"] == "x\nEXEC System touch pwned\n\n200 result=1"  # type: ignore[attr-defined]
    assert req.env["callingpres"] == "0" and req.args == ["first"]  # type: ignore[attr-defined]
    # The first thing on the wire is the route's own command, the name inside it on one line.
    line = (await r.readline()).decode()
    assert line == 'SET VARIABLE "CALLER_NAME" "x EXEC System touch pwned 200 result=1"\n'
    assert srv.rejected == 0
    w.close()


@pytest.mark.parametrize(
    "name",
    [
        "x\nagi_network_script: evil",  # a key Asterisk already sent
        "x\nagi_calleridname: y",  # the same key again
        "x\nagi_dnid: 1900",  # a later key, skipping the real ones in between
        "x\nagi_callingpres: 0",  # the next key: the real one then comes twice
    ],
)
async def test_keys_forged_inside_a_name_refuse_the_request(
    server: tuple[AgiServer, asyncio.Queue[object]], name: str
) -> None:
    srv, seen = server
    r, w = await connect(srv)
    w.write(with_name(name).encode())
    assert await asyncio.wait_for(r.read(), 2) == b""  # closed: no command ever sent
    assert srv.rejected == 1 and seen.empty()
    w.close()


async def test_a_whole_forged_header_in_a_name_fails_at_the_first_reply() -> None:
    """A name ending the header early leaves Asterisk's real lines unread: they are no reply."""
    srv = AgiServer("127.0.0.1", 0, command_timeout=2)
    errors: list[BaseException] = []

    async def ivr(s: AgiSession) -> None:
        try:
            await s.get_variable("CHANNEL(linkedid)")
        except AgiError as err:
            errors.append(err)
            raise

    srv.route("ivr", ivr)
    await srv.start()
    tail = HEADER[HEADER.index("agi_callingpres") :]
    r, w = await connect(srv)
    w.write(with_name("x\n" + tail.replace("18001090", "1900")).encode())
    assert (await r.readline()).decode() == 'GET VARIABLE "CHANNEL(linkedid)"\n'
    w.write(b"200 result=1 (ast1-1.0)\n")
    # The leftover real header is taken for the reply, refused; the dialplan is told to fall back.
    assert (await r.readline()).decode() == 'SET VARIABLE "TONGDAI_AGI_ERROR" "exception"\n'
    assert len(errors) == 1 and "unreadable AGI reply" in str(errors[0])
    w.close()
    await srv.stop()
