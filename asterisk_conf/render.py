"""Render Asterisk's *.conf files from the validated Settings with jinja2.

``tongdai asterisk-conf render DIR`` writes them; ``tongdai asterisk-conf reload`` asks a running
Asterisk to reload (over AMI, or through the sandbox CLI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

if TYPE_CHECKING:  # the complete model is the composition root's; typing only, no import cycle
    from tongdai.settings import Settings

from acd.routing import RULE as SKILL_RULE
from acd.routing import plan_from
from trunks.routes import FINAL_CAUSES, did_forms, pattern_regex

TEMPLATES = Path(__file__).parent / "templates"
VOICEMAIL_CONTEXT = "tongdai"

# Events tongdai consumes (plus FullyBooted, which the include-only filter must let through).
AMI_EVENTS = (
    "FullyBooted",
    "Newchannel",
    "Hangup",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentRingNoAnswer",
    "AgentConnect",
    "AgentComplete",
    "AgentDump",
    "QueueMemberStatus",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberPause",
    "QueueMemberPenalty",
    "Cdr",
    "MixMonitorStart",
    "MixMonitorStop",
    "ContactStatus",
    "UserEvent",
    "OriginateResponse",
    "Reload",
    "Shutdown",
)

FILES = (
    "asterisk.conf",
    "modules.conf",
    "logger.conf",
    "manager.conf",
    "extensions.conf",
    "queues.conf",
    "queuerules.conf",
    "pjsip.conf",
    "rtp.conf",
    "cdr.conf",
    "cdr_manager.conf",
    "cdr_custom.conf",
    "cel.conf",
    "musiconhold.conf",
    "features.conf",
    "voicemail.conf",
    "http.conf",
    "ari.conf",
    "sorcery.conf",
)

SECRET_FILES = ("manager.conf", "pjsip.conf", "ari.conf")


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render_all(settings: Settings) -> dict[str, str]:
    """Return {file name: content} for every Asterisk config file tongdai owns."""
    env = _env()
    agents = {a.id: a for a in settings.agents}
    sl = min((t.target_seconds for t in settings.acd.tiers), default=60)
    trunks = settings.trunks
    cc = trunks.country_code
    bind = settings.asterisk.sip.bind
    ctx = {
        "s": settings,
        "events": AMI_EVENTS,
        "agents": agents,
        "sl_seconds": int(sl),
        "cc": cc,
        # Per trunk, per DID: every form a carrier may send (trunks/routes.py).
        "did_forms": {t.name: [did_forms(d.number, cc) for d in t.dids] for t in trunks.carriers},
        "route_regex": {p: pattern_regex(p) for r in trunks.outbound for p in r.patterns},
        "final_causes": sorted(FINAL_CAUSES),
        # RTP on the SIP address when it is a concrete one (loopback in the sandbox); a wildcard
        # bind leaves RTP on every interface.
        "media_address": "" if bind in ("0.0.0.0", "::", "[::]") else bind,
        # Queue exits to voicemail (acd/exits.py): the boxes live in voicemail.conf's own context.
        "voicemail_context": VOICEMAIL_CONTEXT,
        "mailboxes": settings.queue_exits.mailboxes(),
        # Skills, VIP groups, sticky agents (acd/routing.py): stage queues and the widening rule.
        "plan": plan_from(settings),
        "rule_name": SKILL_RULE,
    }
    return {name: env.get_template(name + ".j2").render(**ctx) for name in FILES}


def write_all(settings: Settings, out_dir: Path) -> list[Path]:
    """Write the rendered files; those holding secrets (SECRET_FILES) are 0600."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all(settings).items():
        path = out_dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o600 if name in SECRET_FILES else 0o644)
        tmp.replace(path)
        written.append(path)
    return written
