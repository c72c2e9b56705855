"""Which agent a queue member is, and which queue a stage queue counts as: pure parsing of app_queue's
member and queue names."""

from __future__ import annotations

import re

_AGENT_IFACE = re.compile(r"^(?:Local/|PJSIP/|SIP/)?(\d{3,6})(?:@|$|-)")


def agent_from_member(member_name: str, interface: str) -> str:
    """Our agents' queue member name is their id; fall back to the id inside the interface."""
    if member_name.isdigit():
        return member_name
    m = _AGENT_IFACE.match(interface) or _AGENT_IFACE.match(member_name)
    return m.group(1) if m else member_name or interface


# A stage queue (acd/routing.py: the sticky agent, the VIP group, a language) is named
# "<queue>.<stage>"; configured queue names cannot hold a '.', so the part before it is the queue.
STAGE_SEP = "."


def base_queue(name: str) -> str:
    """The configured queue a (stage) queue belongs to: ``mobile.vip`` → ``mobile``."""
    return name.split(STAGE_SEP, 1)[0]
