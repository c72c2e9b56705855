"""The portal's signed token: a good one names the customer; a bad signature, another algorithm, an
expired or too-long-lived token, a missing claim or a non-customer ID is refused with its reason."""

from __future__ import annotations

import re

import jwt
import pytest

from webchat.portal_token import AUDIENCE, BadPortalToken, sign, verify

SECRET = "portal-shared-secret-0123456789abcdef-0123456789abcdef-0123456789"  # 64+ bytes: HS512 too
NOW = 1_800_000_000.0


def is_id(text: str) -> bool:
    return re.fullmatch(r"KH\d{10}", text) is not None


def test_a_good_token_names_the_customer() -> None:
    token = sign("KH0000000001", SECRET, now=NOW)
    assert verify(token, SECRET, valid_id=is_id, now=NOW + 5) == "KH0000000001"
    assert verify(token, SECRET, valid_id=is_id, now=NOW + 600 + 29) == "KH0000000001"  # leeway


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (sign("KH0000000001", "another-secret-entirely-0123456789", now=NOW), "not valid"),
        (sign("KH0000000001", SECRET, now=NOW - 700), "expired"),
        (sign("KH0000000001", SECRET, lifetime=86400, now=NOW), "too long"),
        (sign("'; DROP TABLE--", SECRET, now=NOW), "customer ID"),
        (
            jwt.encode({"sub": "KH0000000001", "exp": NOW + 60}, SECRET, algorithm="HS256"),
            "not valid",
        ),  # no aud
        (
            jwt.encode({"sub": "KH0000000001", "aud": AUDIENCE, "exp": NOW + 60}, SECRET, algorithm="HS512"),
            "not valid",
        ),
        (
            jwt.encode({"sub": "KH0000000001", "aud": AUDIENCE, "exp": NOW + 60}, None, algorithm="none"),
            "not valid",
        ),
        ("not-a-token", "not valid"),
    ],
)
def test_bad_tokens_are_refused(token: str, why: str) -> None:
    with pytest.raises(BadPortalToken, match=why):
        verify(token, SECRET, valid_id=is_id, now=NOW)
