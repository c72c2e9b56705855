"""A bare SIP user agent over secure WebSocket (RFC 7118) for the tests: REGISTER with digest
authentication, as a browser's softphone does, to check what Asterisk accepts and refuses."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import secrets
import ssl
import struct
from pathlib import Path
from urllib.parse import urlsplit


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # SIP digest is MD5 by definition


def _params(header: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', header)}


async def register(
    ws_url: str, ca_file: Path, user: str, password: str, domain: str, *, expires: int = 60
) -> int:
    """REGISTER ``user`` over ``ws_url`` (answering one digest challenge); the final status code."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    call_id, tag, branch = secrets.token_hex(8), secrets.token_hex(4), secrets.token_hex(6)
    contact = f"<sip:{secrets.token_hex(4)}@{secrets.token_hex(4)}.invalid;transport=ws>"

    def request(cseq: int, auth: str = "") -> str:
        lines = [
            f"REGISTER sip:{domain} SIP/2.0",
            f"Via: SIP/2.0/WSS {secrets.token_hex(4)}.invalid;branch=z9hG4bK{branch}{cseq}",
            "Max-Forwards: 70",
            f"To: <sip:{user}@{domain}>",
            f"From: <sip:{user}@{domain}>;tag={tag}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: {contact};expires={expires}",
            f"Expires: {expires}",
            *([auth] if auth else []),
            "Content-Length: 0",
        ]
        return "\r\n".join(lines) + "\r\n\r\n"

    reader, writer = await _ws_open(ws_url, ctx)
    try:
        await _ws_send(writer, request(1))
        for cseq in (1, 2):
            while True:
                reply = await asyncio.wait_for(_ws_recv(reader), 10)
                if not reply.startswith("SIP/2.0 "):
                    continue  # a request from Asterisk (qualify's OPTIONS): not our answer
                status = int(reply.split(" ", 2)[1])
                if status >= 200:
                    break
            if status != 401 or cseq == 2:
                return status
            challenge = next(ln for ln in reply.split("\r\n") if ln.lower().startswith("www-authenticate:"))
            p = _params(challenge.split(":", 1)[1])
            uri = f"sip:{domain}"
            ha1 = _md5(f"{user}:{p['realm']}:{password}")
            cnonce, nc = secrets.token_hex(8), "00000001"
            ha2 = _md5(f"REGISTER:{uri}")
            resp = _md5(f"{ha1}:{p['nonce']}:{nc}:{cnonce}:auth:{ha2}")
            auth = (
                f'Authorization: Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", '
                f'uri="{uri}", response="{resp}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"'
                + (f', opaque="{p["opaque"]}"' if "opaque" in p else "")
            )
            await _ws_send(writer, request(2, auth))
        return status
    finally:
        writer.transport.abort()  # no TLS close_notify exchange: the socket closes now
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


# A client WebSocket (RFC 6455) on asyncio streams, text frames only: all a SIP exchange needs, and
# a connection closed exactly when the test says so.


async def _ws_open(url: str, ctx: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    u = urlsplit(url)
    assert u.hostname and u.port
    reader, writer = await asyncio.open_connection(u.hostname, u.port, ssl=ctx)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: sip\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    if not head.startswith(b"HTTP/1.1 101"):
        writer.close()
        raise ConnectionError(f"no websocket upgrade: {head[:200]!r}")
    return reader, writer


async def _ws_send(writer: asyncio.StreamWriter, text: str) -> None:
    data, mask = text.encode(), os.urandom(4)
    n = len(data)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    writer.write(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    await writer.drain()


async def _ws_recv(reader: asyncio.StreamReader) -> str:
    while True:
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await reader.readexactly(8))
        payload = await reader.readexactly(n)
        if b0 & 0x0F == 0x8:
            raise ConnectionError("the server closed the websocket")
        if b0 & 0x0F == 0x1:
            return payload.decode()
