"""Wiring of trunks: the ``trunks`` section (carrier trunks, DIDs, outbound routes) and its checks
against the hotlines, queues and agents. Rendering is asterisk_conf's; dialling goes through
:func:`trunks.routes.choose_route`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from core.component import ComponentSpec
from core.config import Section
from trunks.config import TrunksConfig, check_references

__all__ = ["SPEC", "TrunksSections"]


class TrunksSections(Section):
    trunks: TrunksConfig = TrunksConfig()


def check_trunks(s: Any) -> Iterable[str]:
    """DIDs reach configured hotlines/queues, routes present a hotline, SIP phones have strong secrets."""
    try:
        check_references(
            s.trunks, hotlines=s.hotline.numbers, queues=[q.name for q in s.queues], agents=s.agents
        )
    except ValidationError as err:
        for e in err.errors():
            yield f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"


SPEC = ComponentSpec("trunks", sections=TrunksSections, checks=(check_trunks,))
