"""Who hears a position announcement, when, and what it says (acd/announce.py), without Asterisk."""

from __future__ import annotations

from typing import Any

from acd.announce import QueueAnnouncer, sentence
from acd.estimate import AnnouncementsConfig
from core.ami import AmiEvent, AmiResponse
from core.bus import LocalBus
from core.calls import Call, CallTracker
from ivr.numbers import number
from ivr.prompts import word_sounds


def words(n: int, lang: str) -> list[str]:
    return list(word_sounds(number(n, "en" if lang == "en" else "vi")))


class FakeAmi:
    def __init__(self, positions: dict[str, int]) -> None:
        self.positions = positions
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, name: str, fields: dict[str, Any], **_: Any) -> AmiResponse:
        self.sent.append((name, fields))
        events = [
            AmiEvent("QueueEntry", {"Channel": ch, "Position": str(p)}) for ch, p in self.positions.items()
        ]
        return AmiResponse(True, {"Response": "Success"}, events)


def waiting(tracker: CallTracker, call_id: str, tier: str, queued_at: float, lang: str = "vi") -> Call:
    c = tracker.calls[call_id] = Call(call_id, queued_at - 5)
    c.queue, c.queue_channel, c.acd_tier, c.queued_at, c.language = (
        "tv",
        f"Local/{call_id};2",
        tier,
        queued_at,
        lang,
    )
    return c


async def test_due_callers_skip_spared_tiers_and_repeat_at_the_interval() -> None:
    now = [1000.0]
    tracker = CallTracker(LocalBus())
    cfg = AnnouncementsConfig(first_after_seconds=20, interval_seconds=60, default_aht_seconds=120)

    async def agents(queue: str) -> int:
        return 2

    ann = QueueAnnouncer(cfg, tracker, agents, words, clock=lambda: now[0])
    ami = FakeAmi({"Local/std;2": 3, "Local/vip;2": 1, "Local/en;2": 4})
    ann.bind(ami)
    waiting(tracker, "std", "standard", 975.0)
    waiting(tracker, "vip", "vip", 900.0)  # waited long, but VIPs are spared
    waiting(tracker, "en", "gold", 990.0, lang="en")  # 10 s: not yet
    assert await ann.tick() == 1
    originate = [f for n, f in ami.sent if n == "Originate"]
    assert originate[0]["Data"] == "Local/std;2,qwES"
    # Position 3 × 120 s / 2 agents = 180 s → "about 3 minutes", in Vietnamese.
    assert originate[0]["Variable"][0] == "__TONGDAI_ANN=" + "&".join(sentence("vi", 3, 3, words))
    now[0] = 1015.0  # std: 40 s (next at 25 + 60 s); en: 25 s → due, in English
    assert await ann.tick() == 1
    assert "tongdai/en/queue_position" in [f for n, f in ami.sent if n == "Originate"][1]["Variable"][0]
    now[0] = 1059.0  # std has waited 84 s: not due before 85 s
    assert await ann.tick() == 0
    now[0] = 1061.0  # std due again; en (announced at 25 s, waited 71 s) not yet
    assert await ann.tick() == 1


async def test_no_agents_means_position_only() -> None:
    assert sentence("en", 2, None, words) == [
        "tongdai/en/queue_position",
        "tongdai/en/num/two",
        "tongdai/en/queue_position_end",
    ]
