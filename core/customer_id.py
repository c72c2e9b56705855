"""Customer IDs, one type and one format rule for the importer, desktop search, the IVR and the API.

An ID is letters then digits (``KH0000000001``, ``DN12345678``); what an operator's IDs look like is
configuration (``crm.customer_id`` in config.yaml, :class:`crm_bridge.config.CustomerIdConfig`), the
demo's ``KH`` + 10 digits being one instance. Case and surrounding spaces never matter: the canonical
form is upper case.

A telephone keypad has no letters, so a caller keys the **digits** of their ID (``#`` ends the entry)
and the IVR puts a letter prefix back: each entry of :attr:`CustomerIdFormat.keypad` is a prefix and a
digit count, and the keys are read as that prefix followed by the keys left-padded with zeros to that
count — leading zeros are optional, ``1#`` is ``KH0000000001`` with ``("KH", 10)``. With several
prefixes (``KH`` for people, ``DN`` for businesses) every candidate that fits is tried, in the order
configured, and the first ID that exists wins. Keys longer than a prefix's digit count never fit it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NewType

from core.errors import TongdaiError

__all__ = ["DEFAULT_PATTERN", "CustomerId", "CustomerIdFormat", "InvalidCustomerId", "KeypadPrefix"]

CustomerId = NewType("CustomerId", str)
"""A customer ID in canonical form (upper case, no spaces), checked against the configured pattern."""

DEFAULT_PATTERN = r"[A-Z]{2,4}\d{6,12}"


class InvalidCustomerId(TongdaiError, ValueError):
    """The text is not a customer ID of the configured format."""

    error_id = "crm.invalid_customer_id"


@dataclass(frozen=True, slots=True)
class KeypadPrefix:
    """How digits keyed on a phone become an ID: ``prefix`` + the keys zero-padded to ``digits``."""

    prefix: str
    digits: int

    def id_for(self, keys: str) -> str | None:
        return self.prefix + keys.zfill(self.digits) if len(keys) <= self.digits else None


@dataclass(frozen=True, slots=True)
class CustomerIdFormat:
    """The one customer-ID rule: a full-match ``pattern`` (upper case) and the keypad prefixes."""

    pattern: str = DEFAULT_PATTERN
    keypad: tuple[KeypadPrefix, ...] = (KeypadPrefix("KH", 10),)

    def __post_init__(self) -> None:
        for entry in self.keypad:
            sample = entry.prefix + "0" * entry.digits
            if not self._regex().fullmatch(sample):
                raise ValueError(
                    f"keypad prefix {entry.prefix!r} with {entry.digits} digits makes IDs like "
                    f"{sample!r}, which the pattern {self.pattern!r} refuses"
                )

    def _regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)  # re caches compiled patterns: no per-call compile cost

    def canonical(self, text: str) -> str:
        """``text`` as an ID would be stored: spaces around it dropped, upper case."""
        return text.strip().upper()

    def is_valid(self, text: str) -> bool:
        """Whether ``text`` (any case, spaces around it) is an ID of this format."""
        return self._regex().fullmatch(self.canonical(text)) is not None

    def parse(self, text: str) -> CustomerId:
        """The canonical :data:`CustomerId` of ``text``; raises :class:`InvalidCustomerId` otherwise."""
        cid = self.canonical(text)
        if self._regex().fullmatch(cid) is None:
            raise InvalidCustomerId(f"customer_id {text!r} is not like {self.example()}")
        return CustomerId(cid)

    def example(self) -> str:
        """An ID of this format, for error messages (the first keypad prefix's ID number 1234)."""
        if self.keypad:
            return self.keypad[0].prefix + "1234".zfill(self.keypad[0].digits)
        return f"an ID matching {self.pattern}"

    def from_keys(self, keys: str) -> list[CustomerId]:
        """Every ID that digits keyed on a phone may mean, in the configured order (see module doc)."""
        if not (keys.isascii() and keys.isdigit()):
            return []
        found = (entry.id_for(keys) for entry in self.keypad)
        return [CustomerId(cid) for cid in found if cid is not None and self._regex().fullmatch(cid)]
