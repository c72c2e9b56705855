"""Log lines as JSON or text, each tagged with the call it belongs to, across tasks, and redacted."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from core import log_redaction, logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, factory = list(root.handlers), root.level, logging.getLogRecordFactory()
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    log_redaction._installed = False


async def test_json_lines_carry_the_call_across_tasks(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure(json_lines=True, stream=out)
    log = logging.getLogger("ivr.agi_route")

    async def handle(linkedid: str) -> None:
        with logs.call_context(linkedid=linkedid, uniqueid=f"{linkedid}.1"):
            await asyncio.sleep(0)
            with logs.call_context(agent="1001"):
                await asyncio.create_task(asyncio.to_thread(lambda: None))
                log.info("ringing agent for caller %s", "0912345678")
            log.info("left queue")

    await asyncio.gather(handle("tdtest-1.1"), handle("tdtest-2.1"))
    log.info("no call here")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 5
    ringing = [x for x in lines if x["message"].startswith("ringing")]
    assert {x["linkedid"] for x in ringing} == {"tdtest-1.1", "tdtest-2.1"}
    assert all(x["agent"] == "1001" and x["uniqueid"] == x["linkedid"] + ".1" for x in ringing)
    assert all("0912345678" not in x["message"] and "091****678" in x["message"] for x in ringing)
    left = [x for x in lines if x["message"] == "left queue"]
    assert {x["agent"] for x in left} == {""}  # the inner binding ended with its block
    last = lines[-1]
    assert last["message"] == "no call here" and last["linkedid"] == "" and last["level"] == "INFO"
    assert last["logger"] == "ivr.agi_route" and "time" in last


def test_text_lines_show_the_call_tags(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure(json_lines=False, stream=out)
    with logs.call_context(linkedid="tdtest-9.9"):
        logging.getLogger("core.calls").warning("hangup")
    logging.getLogger("core.calls").warning("idle")
    first, second = out.getvalue().splitlines()
    assert first.endswith("core.calls: hangup [linkedid=tdtest-9.9]")
    assert second.endswith("core.calls: idle")
    with pytest.raises(ValueError, match="unknown call log fields"), logs.call_context(customer="KH1"):
        pass
