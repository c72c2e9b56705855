"""The operator's portal vouches for a logged-in customer with a signed token (JWT, HS256, PyJWT).

The portal signs ``{"sub": <customer ID>, "aud": "tongdai-chat", "exp": <unix time>}`` with the
shared secret and hands it to the widget; tongdai verifies signature, audience and expiry (30 s of
clock leeway, at most ``max_lifetime`` seconds ahead so a leaked token is short-lived) and only then
treats the chat as that customer's. Anything else — a bad signature, another algorithm (``none``
included), a missing claim, a customer ID that is not one — is refused with one clear reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt

from core.errors import TongdaiError

AUDIENCE = "tongdai-chat"
LEEWAY = 30.0  # seconds of clock difference between the portal and us


class BadPortalToken(TongdaiError):
    error_id = "chat.bad_token"


def sign(customer_id: str, secret: str, *, lifetime: int = 600, now: float | None = None) -> str:
    """What the operator's portal does (used by tests and the demo page)."""
    issued = int(now if now is not None else time.time())
    claims = {"sub": customer_id, "aud": AUDIENCE, "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(
    token: str,
    secret: str,
    *,
    valid_id: Callable[[str], bool],
    max_lifetime: int = 3600,
    now: float | None = None,
) -> str:
    """The customer ID the token vouches for; raises :class:`BadPortalToken`."""
    at = now if now is not None else time.time()
    try:
        # Expiry is judged here against ``at`` (PyJWT would read the clock itself); the rest by PyJWT.
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "aud"], "verify_exp": False, "verify_iat": False},
        )
        exp = float(claims["exp"])
    except (jwt.InvalidTokenError, TypeError, ValueError) as err:
        raise BadPortalToken(f"the portal token is not valid: {err}") from None
    if exp + LEEWAY < at:
        raise BadPortalToken("the portal token has expired")
    if exp - at > max_lifetime:
        raise BadPortalToken("the portal token lives too long: at most one hour ahead")
    customer_id = str(claims["sub"])
    if not valid_id(customer_id):
        raise BadPortalToken("the portal token does not name a customer ID")
    return customer_id
