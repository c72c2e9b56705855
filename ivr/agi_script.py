"""A scripted Asterisk for FastAGI: speaks the real protocol over a socket, for tests and benchmarks.

It sends the ``agi_*`` header, then answers each command the way Asterisk 22 does: ``GET VARIABLE``
(``CHANNEL(linkedid)`` gives the uniqueid), ``SET VARIABLE``, ``STREAM FILE`` (a queued key
interrupts it when it is an escape digit: ``200 result=<ascii> endpos=…``), ``WAIT FOR DIGIT`` (a
queued key, or ``result=0`` for a timeout), ``CHANNEL STATUS``, ``ANSWER``, ``VERBOSE``; anything else
gets ``510``. With ``hangup_when_idle`` the caller hangs up the first time the server waits for a key
(``WAIT FOR DIGIT``) and none is left: Asterisk's unsolicited ``HANGUP`` line, then ``result=-1``.
A sound in ``missing`` is answered ``result=-1`` with the channel still up, as for a file Asterisk
does not have.

Each server "think time" is measured: from our reply (or the end of the header) to the server's next
command. That is the FastAGI decision latency the benchmark reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_ARG = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def parse_command(line: str) -> list[str]:
    """Split an AGI command line into words, unquoting quoted arguments."""
    return [
        re.sub(r"\\(.)", r"\1", quoted) if quoted or m.group(0) == '""' else bare
        for m in _ARG.finditer(line)
        for quoted, bare in [m.groups(default="")]
    ]


@dataclass
class ScriptedCall:
    caller: str = "0912345678"
    caller_name: str = ""
    keys: str = ""  # keys the caller presses, one per key-collecting command
    uniqueid: str = "1700000000.1"
    route: str = "ivr"
    hangup_when_idle: bool = True
    variables: dict[str, str] = field(default_factory=dict)
    played: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # sounds this Asterisk lacks: STREAM FILE gives -1
    commands: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds, one per command received
    after: list[str] = field(default_factory=list)  # the reply each latency followed ("" = header)
    hung_up: bool = False
    # Seconds a prompt or a key wait takes on a real channel (None: reply at once, a tight loop).
    pace: Callable[[], float] | None = None

    def header(self) -> bytes:
        """The environment exactly as Asterisk 22 writes it (res_agi.c), names written raw."""
        lines = [
            ("network", "yes"),
            ("network_script", self.route),
            ("request", f"agi://127.0.0.1/{self.route}"),
            ("channel", f"Local/18001090@tongdai-hotline-{self.uniqueid};2"),
            ("language", "en"),
            ("type", "Local"),
            ("uniqueid", self.uniqueid),
            ("version", "22.0.0"),
            ("callerid", self.caller or "unknown"),
            ("calleridname", self.caller_name or "unknown"),
            ("callingpres", "0"),
            ("callingani2", "0"),
            ("callington", "0"),
            ("callingtns", "0"),
            ("dnid", "18001090"),
            ("rdnis", "unknown"),
            ("context", "tongdai-ivr"),
            ("extension", "s"),
            ("priority", "4"),
            ("enhanced", "0.0"),
            ("accountcode", ""),
            ("threadid", "140000000000000"),
        ]
        return ("".join(f"agi_{k}: {v}\n" for k, v in lines) + "\n").encode()

    def _key(self, allowed: str | None) -> str | None:
        if self.keys and (allowed is None or self.keys[0] in allowed):
            key, self.keys = self.keys[0], self.keys[1:]
            return key
        return None

    def reply(self, words: list[str]) -> str:
        """Asterisk's reply line(s) to one command."""
        verb = " ".join(words[:2]).upper()
        if verb == "GET VARIABLE":
            if words[2] == "CHANNEL(linkedid)":
                return f"200 result=1 ({self.uniqueid})\n"
            value = self.variables.get(words[2])
            return f"200 result=1 ({value})\n" if value is not None else "200 result=0\n"
        if verb == "SET VARIABLE":
            self.variables[words[2]] = words[3] if len(words) > 3 else ""
            return "200 result=1\n"
        if verb == "STREAM FILE":
            if words[2] in self.missing:  # Asterisk: "Playing '…' (…) failed", the channel still up
                return "200 result=-1 endpos=0\n"
            self.played.append(words[2])
            escape = words[3] if len(words) > 3 else ""
            key = self._key(escape) if escape else None
            if key is not None:
                return f"200 result={ord(key)} endpos=8000\n"
            return "200 result=0 endpos=16000\n"  # played to the end
        if verb == "WAIT FOR":  # WAIT FOR DIGIT
            key = self._key(None)
            if key is not None:
                return f"200 result={ord(key)}\n"
            if self.hangup_when_idle:
                self.hung_up = True
                return "HANGUP\n200 result=-1\n"
            return "200 result=0\n"
        if verb == "CHANNEL STATUS":
            return "200 result=-1\n" if self.hung_up else "200 result=6\n"
        if words and words[0].upper() in ("ANSWER", "VERBOSE"):
            return "200 result=0\n"
        return "510 Invalid or unknown command\n"

    async def run(self, host: str, port: int, timeout: float = 30.0) -> ScriptedCall:
        """Place the call against a FastAGI server; returns self once the server closes."""
        reader, writer = await asyncio.open_connection(host, port)
        try:
            async with asyncio.timeout(timeout):
                writer.write(self.header())
                await writer.drain()
                sent = time.perf_counter()
                answer = ""
                while True:
                    raw = await reader.readline()
                    if not raw:
                        return self
                    self.latencies.append(time.perf_counter() - sent)
                    self.after.append(answer)
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    self.commands.append(line)
                    answer = self.reply(parse_command(line))
                    if self.pace is not None and line.startswith(("STREAM FILE", "WAIT FOR DIGIT")):
                        await asyncio.sleep(self.pace())  # the prompt plays, the caller thinks
                    writer.write(answer.encode())
                    await writer.drain()
                    sent = time.perf_counter()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
