"""The callback form's abuse guard, without a CAPTCHA (pure; the clock is passed in):

1. **A signed form token.** The widget asks for one when it shows the form: ``issued.nonce.bits.mac``,
   HMAC-SHA256 under a key derived from the node's session secret. It cannot be forged, says when the
   form was shown, and is accepted once (its nonce is remembered until it expires).
2. **Timing.** A form submitted sooner than ``min_fill_seconds`` after it was shown was not filled by a
   person; one older than ``token_ttl_seconds`` is refused (the widget fetches a new token).
3. **Proof of work.** The browser finds ``work`` such that SHA-256(token ":" work) starts with ``bits``
   zero bits: ~2^bits hashes, a fraction of a second for one customer, a real cost for a script posting
   thousands of forms; checking it costs us one hash.
4. **Rate limits** per number (a day) and per client address (an hour), whatever the above says.

Why not a CAPTCHA: it sends the customer's browser to a third party (no CDN is allowed), fails people
with disabilities, and is solved by paid farms anyway; the costs above fall on the abuser's volume.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from core.errors import TongdaiError, TooManyRequests


class FormRefused(TongdaiError, ValueError):
    error_id = "callback_form.refused"


class FormExpired(FormRefused):
    error_id = "callback_form.expired"


class FormTooFast(FormRefused):
    error_id = "callback_form.too_fast"


class BadWork(FormRefused):
    error_id = "callback_form.bad_work"


class FormRateLimited(TooManyRequests):
    error_id = "callback_form.rate_limited"


def leading_zero_bits(digest: bytes) -> int:
    n = 0
    for byte in digest:
        if byte == 0:
            n += 8
            continue
        return n + 8 - byte.bit_length()
    return n


def work_ok(token: str, work: str, bits: int) -> bool:
    digest = hashlib.sha256(f"{token}:{work}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def solve(token: str, bits: int) -> str:
    """What the widget does (tests and the benchmark use it)."""
    n = 0
    while not work_ok(token, str(n), bits):
        n += 1
    return str(n)


@dataclass
class FormGuard:
    key: bytes
    bits: int
    min_fill_seconds: float
    ttl_seconds: float
    _used: dict[str, float] = field(default_factory=dict)  # nonce → expiry

    def _mac(self, body: str) -> str:
        return hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, now: float) -> str:
        body = f"{int(now)}.{secrets.token_hex(8)}.{self.bits}"
        return f"{body}.{self._mac(body)}"

    def check(self, token: str, work: str, now: float) -> None:
        """Accept a submitted form once; raises a :class:`FormRefused`."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 4 or not hmac.compare_digest(self._mac(".".join(parts[:3])), parts[3]):
            raise FormRefused("the form token is not valid: reload the form")
        issued, nonce, bits = float(parts[0]), parts[1], int(parts[2])
        if now - issued > self.ttl_seconds:
            raise FormExpired("the form is too old: reload it")
        if now - issued < self.min_fill_seconds:
            raise FormTooFast("the form was sent too fast")
        if not isinstance(work, str) or len(work) > 20 or not work_ok(token, work, bits):
            raise BadWork("the form's proof of work is missing or wrong")
        for n, until in list(self._used.items()):
            if until < now:
                del self._used[n]
        if nonce in self._used:
            raise FormRefused("this form was already sent")
        self._used[nonce] = issued + self.ttl_seconds
