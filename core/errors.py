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
