"""Outage notices: which apply to which caller, at which time, and what the caller hears (pure rules).

A notice is posted for an *area* as the CRM's customer address holds it: ``crm_customers.province``
("Hà Nội", "TP Hồ Chí Minh"), which the IVR's lookup hands the menu as :attr:`CustomerFacts.area`.
Both sides are compared folded (:func:`area_key`: no diacritics, lower case, punctuation as spaces), so
a notice posted for "Ha Noi" or "HÀ NỘI" reaches a customer whose province is "Hà Nội".

A notice is in force from ``starts_at`` (included) to ``ends_at`` (excluded): at 17:00 sharp a notice
ending at 17:00 is no longer read. Expired notices never reach these rules (the store drops them).

Each notice is spoken from its own audio file, made from the posted text by the prompt builder
(``tongdai/<lang>/outage/n<id>``, see :func:`notice_sound`); a notice without audio in the caller's
language (no English text, or the file not made yet) is replaced by the configured generic prompt,
said once however many notices lack audio.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from crm_bridge.textfold import fold

SOUND_DIR = "outage"  # under tongdai/<lang>/


def area_key(area: str) -> str:
    """The folded form notices and customers are matched on: ``"TP. Hồ Chí Minh"`` → ``"tp ho chi minh"``."""
    return fold(area)


def notice_sound(lang: str, notice_id: int) -> str:
    """Asterisk sound name (no extension) of a notice's audio: ``tongdai/vi/outage/n12``."""
    return f"tongdai/{lang}/{SOUND_DIR}/n{notice_id}"


@dataclass(frozen=True)
class Notice:
    """What the IVR knows of one live notice."""

    id: int
    area_key: str
    starts_at: datetime  # timezone-aware
    ends_at: datetime
    # Languages whose audio file exists (the IVR then plays it; else the generic prompt).
    audio: frozenset[str] = field(default_factory=frozenset)

    def in_force(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


def notices_for(notices: Iterable[Notice], area: str | None, now: datetime) -> tuple[Notice, ...]:
    """The notices in force at ``now`` for a customer of ``area``, oldest start first (then by id)."""
    if not area:
        return ()
    key = area_key(area)
    if not key:
        return ()
    found = [n for n in notices if n.area_key == key and n.in_force(now)]
    return tuple(sorted(found, key=lambda n: (n.starts_at, n.id)))


def sounds_for(notices: Iterable[Notice], lang: str, fallback: str) -> dict[str, tuple[int, ...]]:
    """The sounds that read ``notices`` in ``lang``, in order, each with the notice ids it speaks.

    ``fallback`` is the generic prompt's sound, said once in place of every notice without audio in
    ``lang``; those notices count as read too (the caller was told of an outage in their area).
    """
    out: dict[str, tuple[int, ...]] = {}
    for n in notices:
        sound = notice_sound(lang, n.id) if lang in n.audio else fallback
        out[sound] = (*out.get(sound, ()), n.id)
    return out
