"""Which agent a queue member is: pure parsing of app_queue's member names and interfaces."""

from __future__ import annotations

import re

_AGENT_IFACE = re.compile(r"^(?:Local/|PJSIP/|SIP/)?(\d{3,6})(?:@|$|-)")


def agent_from_member(member_name: str, interface: str) -> str:
    """Our agents' queue member name is their id; fall back to the id inside the interface."""
    if member_name.isdigit():
        return member_name
    m = _AGENT_IFACE.match(interface) or _AGENT_IFACE.match(member_name)
    return m.group(1) if m else member_name or interface
