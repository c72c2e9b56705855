"""Answering-machine detection for a campaign's customer leg: Asterisk's ``AMD()`` parameters, how
they travel to the dialplan, and what its verdict means for the attempt. Pure: no I/O.

A campaign with ``amd`` set (an object, ``{}`` for Asterisk's defaults) has ``AMD()`` listen to the
answered leg before anything else (asterisk_conf: ``tongdai-campaign``). ``AMDSTATUS`` is
``MACHINE``, ``HUMAN``, ``NOTSURE`` or ``HANGUP``; ``AMDCAUSE`` says why (``LONGGREETING-2000-1500``,
``MAXWORDS-3-3``, ``HUMAN-1000-800``, ``TOOLONG-5000``…). Both are recorded on the attempt. Only
``MACHINE`` makes the outcome ``machine`` (hung up, retried by the campaign's machine rule); a
``NOTSURE`` call goes to an agent, as a person would (a person wrongly hung up is worse than a
machine reaching an agent).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# The order of AMD()'s arguments (app_amd): the dialplan cuts the joined string back into them.
_ORDER = (
    "initial_silence",
    "greeting",
    "after_greeting_silence",
    "total_analysis_time",
    "min_word_length",
    "between_words_silence",
    "maximum_number_of_words",
    "silence_threshold",
    "maximum_word_length",
)


class AmdSettings(BaseModel):
    """AMD() parameters, milliseconds unless said; the defaults are Asterisk's own (amd.conf)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_silence: int = Field(2500, ge=100, le=10_000)  # silence before the greeting: a machine
    greeting: int = Field(1500, ge=100, le=10_000)  # a greeting longer than this: a machine
    after_greeting_silence: int = Field(800, ge=100, le=5_000)  # silence after it: a person
    total_analysis_time: int = Field(5000, ge=500, le=30_000)  # undecided past this: NOTSURE
    min_word_length: int = Field(100, ge=10, le=2_000)
    between_words_silence: int = Field(50, ge=10, le=2_000)
    maximum_number_of_words: int = Field(2, ge=1, le=20)  # this many words or more: a machine
    silence_threshold: int = Field(256, ge=1, le=32_767)  # energy level (not ms)
    maximum_word_length: int = Field(5000, ge=100, le=30_000)

    def dialplan_value(self) -> str:
        """The channel variable ``TONGDAI_AMD``: the nine arguments joined by ``_`` (an Originate
        variable may not hold commas)."""
        return "_".join(str(getattr(self, k)) for k in _ORDER)


def outcome_after_amd(status: str) -> str | None:
    """The attempt's outcome once AMD has spoken: ``machine``, or None (the call goes on)."""
    return "machine" if status == "MACHINE" else None
