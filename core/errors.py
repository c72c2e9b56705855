"""One error tree for the whole product; each error carries a stable ``error_id`` that the
HTTP, websocket and AGI edges map to their own replies."""

from __future__ import annotations


class TongdaiError(Exception):
    """Root of every error tongdai raises on purpose."""

    error_id = "tongdai.error"


class ConfigError(TongdaiError):
    error_id = "config.invalid"


class AmiError(TongdaiError):
    error_id = "ami.error"


class AmiNotConnected(AmiError):
    error_id = "ami.not_connected"


class AmiActionFailed(AmiError):
    error_id = "ami.action_failed"


class AmiTimeout(AmiError):
    error_id = "ami.timeout"


class UnsafeValue(TongdaiError):
    """A value bound for AMI or AGI holds CR/LF (or NUL): sending it could inject headers or commands."""

    error_id = "protocol.unsafe_value"


class AgiError(TongdaiError):
    error_id = "agi.error"


class AgiHangup(AgiError):
    """The caller hung up: the AGI session is over."""

    error_id = "agi.hangup"


class NotFound(TongdaiError):
    error_id = "not_found"


class Conflict(TongdaiError):
    error_id = "conflict"


class ExternalServiceError(TongdaiError):
    error_id = "external.unavailable"


# --- what an HTTP or websocket edge answers (core/http.py maps each to its status) ----------------


class BadRequest(TongdaiError, ValueError):
    """The request's arguments are missing, malformed or out of range (400)."""

    error_id = "request.invalid"


class Unauthorized(TongdaiError):
    """No credentials, or credentials that name no one (401)."""

    error_id = "auth.required"


class Forbidden(TongdaiError):
    """The caller is known but may not do this (403)."""

    error_id = "access.forbidden"


class TooManyRequests(TongdaiError):
    """Over a rate limit (429); ``retry_after`` is the seconds until a retry can succeed."""

    error_id = "request.rate_limited"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(TongdaiError):
    """A collaborator the request needs (database, Asterisk, a service) is not running (503)."""

    error_id = "service.unavailable"
