"""Logs carry no secrets and no full phone or identity numbers, from our code or panoramisk's."""

from __future__ import annotations

import logging

import pytest

from core import log_redaction
from core.log_redaction import redact


@pytest.mark.parametrize(
    ("line", "gone", "kept"),
    [
        # panoramisk's INFO line for an action queued while disconnected (a Python dict repr).
        (
            "Adding action \"login\" to awaiting list: {'Action': 'Login', 'Username': 'tongdai', "
            "'Secret': 'Sup3r-s3cret!', 'ActionID': 'a-1'}",
            "Sup3r-s3cret!",
            "'Username': 'tongdai'",
        ),
        ("Secret: hunter2\r\nUsername: tongdai", "hunter2", "Username: tongdai"),
        ("session_secret=abcdef0123456789 port=8080", "abcdef0123456789", "port=8080"),
        ("TONGDAI__RECORDINGS__ENCRYPTION_KEY=AAAAbase64==", "AAAAbase64", "TONGDAI__RECORDINGS__"),
        ("db postgresql+asyncpg://tongdai:pa55word@db:5432/tongdai", "pa55word", "@db:5432/tongdai"),
        ('{"password": "demo-1001", "agent": "1001"}', "demo-1001", '"agent": "1001"'),
    ],
)
def test_secrets_are_removed(line: str, gone: str, kept: str) -> None:
    out = redact(line)
    assert gone not in out and "***" in out and kept in out


def test_numbers_are_masked_but_ids_and_uniqueids_stay_readable() -> None:
    out = redact(
        "call from 0912345678 (+84912345678, 84987654321) id 001203004567 cmnd 123456789 "
        "customer KH0000000001 uniqueid tdtest-1764640000.12 agent 1001 queue 5"
    )
    assert "0912345678" not in out and "091****678" in out
    assert "+84912345678" not in out and "+8491****678" in out
    assert "84987654321" not in out and "8498****321" in out
    assert "001203004567" not in out and "*********567" in out
    assert "123456789" not in out and "******789" in out
    for kept in ("KH0000000001", "tdtest-1764640000.12", "agent 1001", "queue 5"):
        assert kept in out


def test_installed_factory_redacts_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    before = logging.getLogRecordFactory()
    try:
        log_redaction._installed = False
        log_redaction.install()
        log_redaction.install()  # idempotent: wrapped once
        with caplog.at_level(logging.INFO):
            logging.getLogger("panoramisk.ami_protocol").info(
                "Adding action %r: %s", "login", {"Secret": "s3cr3t-value", "Username": "u"}
            )
            logging.getLogger("ivr.agi_route").warning("caller %s keyed %s", "0987654321", "079203001234")
        text = caplog.text
        assert "s3cr3t-value" not in text and "'Secret': '***'" in text
        assert "0987654321" not in text and "098****321" in text and "079203001234" not in text
    finally:
        logging.setLogRecordFactory(before)
        log_redaction._installed = False


async def test_panoramisk_protocol_lines_from_its_real_objects_are_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The three lines panoramisk's protocol logs, built from its own Action and Message classes (not
    imitations): the queued action (wire form), a failed send (repr) and each message read (DEBUG).
    Async: an Action makes its future on the running loop."""
    from panoramisk.actions import Action
    from panoramisk.message import Message

    before = logging.getLogRecordFactory()
    try:
        log_redaction._installed = False
        log_redaction.install()
        login = Action({"Action": "Login", "Username": "tongdai", "Secret": "Kq8-real-ami-secret"})
        event = Message.from_line(
            "Event: Newchannel\r\nCallerIDNum: 0912345678\r\nCallerIDName: CCCD 079203001234\r\n"
            "Exten: 18001090\r\nLinkedid: tdtest-1764640000.12"
        )
        assert event is not None
        proto = logging.getLogger("panoramisk.ami_protocol")
        with caplog.at_level(logging.DEBUG, logger="panoramisk.ami_protocol"):
            proto.info('Adding action "%s" to awaiting list: %s', "login", str(login))
            proto.error("Fail to send %r" % login)  # noqa: UP031 - panoramisk's own formatting
            proto.debug("message interpreted: %r", event)
        text = caplog.text
        assert "Kq8-real-ami-secret" not in text and "Username: tongdai" in text
        assert "0912345678" not in text and "091****678" in text
        assert "079203001234" not in text and "*********234" in text
        assert "18001090" in text and "tdtest-1764640000.12" in text  # the hotline and call ids stay
    finally:
        logging.setLogRecordFactory(before)
        log_redaction._installed = False
