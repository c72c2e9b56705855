"""config.yaml section ``trunks:``: carrier SIP trunks (inbound DIDs, outbound routes).

Rules checked here, each error naming its key (and so its line, see core.config):
- a trunk is identified by source address (``match``: IPs/CIDRs) and/or by its registration; a trunk
  that delivers DIDs must have one of them, or nobody could call in through it;
- a DID (in any carrier form) is claimed by one trunk only and maps to exactly one hotline or queue;
- an outbound route names existing trunks, in failover order; a pattern that could reach an
  international number (``00…``) needs ``international: true``, so toll fraud is not one typo away;
- caller-ID presentation is a hotline number (never an agent's extension);
- a TLS trunk needs ``trunks.tls`` (certificate and key);
- agents with ``phone: pjsip`` need a strong ``sip_secret`` (checked here too: SIP phones are the
  telephony edge this package owns).

Secrets come from the environment, e.g. ``TONGDAI__TRUNKS__CARRIERS__0__REGISTRATION__SECRET``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from core.config import AsteriskPath, AsteriskSecret, AsteriskText
from trunks.routes import did_forms, national, reaches_international, valid_pattern

# Always fullmatch: with match, "$" lets a trailing newline through into the rendered dialplan.
_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
_NUMBER = re.compile(r"\+?[0-9][0-9 .\-]{2,20}")
Codec = Literal["alaw", "ulaw", "g722", "g729", "opus"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _error(loc: tuple[str | int, ...], message: str) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError("tongdai_reference", message), loc=loc, input=None)


def raise_errors(title: str, errors: list[InitErrorDetails]) -> None:
    """Raise one ValidationError whose locations name the exact keys (core.config adds the lines)."""
    if errors:
        raise ValidationError.from_exception_data(title, errors)


class Did(_Section):
    """One number the trunk delivers, in any carrier form, and where its calls go."""

    number: AsteriskText
    hotline: AsteriskText | None = None  # one of hotline.numbers: the call enters the IVR
    queue: AsteriskText | None = None  # or straight into a queue, skipping the IVR

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        if not _NUMBER.fullmatch(v):
            raise ValueError(f"DID {v!r} must be a phone number (digits, optional leading +)")
        return v

    @model_validator(mode="after")
    def _one_target(self) -> Did:
        if (self.hotline is None) == (self.queue is None):
            raise ValueError("give exactly one of 'hotline' or 'queue'")
        return self

    def national(self) -> str:
        return national(self.number)


class Registration(_Section):
    """Outbound registration to the carrier (a trunk without a fixed source address)."""

    username: str = Field(pattern=r"^[A-Za-z0-9_.+-]{1,64}$")
    secret: AsteriskSecret
    # registrar host[:port]; default: the trunk's host and port
    server: AsteriskText | None = Field(None, pattern=r"^[A-Za-z0-9.:\[\]-]{1,260}$")
    expiration: int = Field(3600, ge=60, le=86400)


class TrunkConfig(_Section):
    name: AsteriskText
    # The carrier's SIP server we send calls (and the registration) to.
    host: str = Field(pattern=r"^[A-Za-z0-9.:\[\]-]{1,253}$")
    port: int = Field(5060, ge=1, le=65535)
    transport: Literal["udp", "tcp", "tls"] = "udp"
    # Source addresses/networks the carrier sends from (PJSIP identify): calls from them are this trunk's.
    match: list[str] = []
    registration: Registration | None = None
    codecs: list[Codec] = Field(["alaw", "ulaw"], min_length=1)
    dtmf_mode: Literal["rfc4733", "inband", "info", "auto"] = "rfc4733"
    max_channels: int = Field(30, ge=1, le=10000)  # inbound plus outbound, counted with GROUP_COUNT
    qualify_seconds: int = Field(30, ge=0, le=3600)  # OPTIONS ping; 0 = off
    from_domain: str | None = Field(None, pattern=r"^[A-Za-z0-9.-]{1,253}$")
    dids: list[Did] = []

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("trunk names are lower-case letters, digits and '-', starting with a letter")
        return v

    @field_validator("match")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for m in v:
            try:
                ipaddress.ip_network(m, strict=False)
            except ValueError as err:
                raise ValueError(f"{m!r} is not an IP address or CIDR network") from err
        return v

    @model_validator(mode="after")
    def _identified(self) -> TrunkConfig:
        if self.dids and not self.match and self.registration is None:
            raise ValueError(
                "a trunk that delivers DIDs needs 'match' (the carrier's addresses) or 'registration'"
            )
        return self

    @property
    def endpoint(self) -> str:
        """The PJSIP endpoint/aor/identify name (prefixed: never an agent id or a reserved section)."""
        return f"trunk-{self.name}"

    @property
    def inbound_context(self) -> str:
        return f"tongdai-trunk-{self.name}"


class OutboundRoute(_Section):
    name: AsteriskText
    patterns: list[AsteriskText] = Field(min_length=1)  # national form: 0[35789]XXXXXXXX, 02X., 1800X.
    trunks: list[AsteriskText] = []  # failover order
    # Demo and sandbox only: simulated customers answer instead of a carrier (no trunk needed).
    simulate: bool = False
    caller_id: AsteriskText | None = None  # presented number; default the first hotline number
    international: bool = False
    ring_timeout: int = Field(60, ge=5, le=300)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("route names are lower-case letters, digits and '-', starting with a letter")
        return v

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for p in v:
            if not valid_pattern(p):
                raise ValueError(
                    f"{p!r} is not a dial pattern: digits, X (0-9), Z (1-9), N (2-9), [1-5], "
                    "then optionally '.' (one or more) or '!' (zero or more), e.g. '0[35789]XXXXXXXX'"
                )
        return v

    @model_validator(mode="after")
    def _target(self) -> OutboundRoute:
        if self.simulate == bool(self.trunks):
            raise ValueError("give 'trunks' (failover order) or 'simulate: true', not both")
        if not self.international:
            for p in self.patterns:
                if reaches_international(p):
                    raise ValueError(
                        f"pattern {p!r} can reach international numbers (00…): narrow it (e.g. '0[1-9]X.') "
                        "or set 'international: true' on the route"
                    )
        return self

    @property
    def context(self) -> str:
        return f"tongdai-route-{self.name}"


class TlsConfig(_Section):
    port: int = Field(5061, ge=1, le=65535)
    cert_file: AsteriskPath
    priv_key_file: AsteriskPath
    ca_list_file: AsteriskPath | None = None
    verify_server: bool = True


class TrunksConfig(_Section):
    # The number rules (core/phone.py) are Việt Nam's: the country code is 84, written here to be seen.
    country_code: Literal["84"] = "84"
    carriers: list[TrunkConfig] = []
    outbound: list[OutboundRoute] = []
    tls: TlsConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TrunksConfig:
        errors: list[InitErrorDetails] = []
        names: dict[str, int] = {}
        claimed: dict[str, tuple[str, int]] = {}
        for i, t in enumerate(self.carriers):
            if t.name in names:
                errors.append(_error(("carriers", i, "name"), f"trunk {t.name!r} is defined twice"))
            names.setdefault(t.name, i)
            if t.transport == "tls" and self.tls is None:
                errors.append(
                    _error(("carriers", i, "transport"), "a TLS trunk needs 'trunks.tls' (cert_file…)")
                )
            for j, d in enumerate(t.dids):
                for form in did_forms(d.number, self.country_code):
                    owner = claimed.get(form)
                    if owner is not None:
                        errors.append(
                            _error(
                                ("carriers", i, "dids", j, "number"),
                                f"DID {d.number!r} is already claimed by trunk {owner[0]!r} "
                                f"(trunks.carriers.{owner[1]}.dids)",
                            )
                        )
                        break
                for form in did_forms(d.number, self.country_code):
                    claimed.setdefault(form, (t.name, i))
        route_names: set[str] = set()
        for i, r in enumerate(self.outbound):
            if r.name in route_names:
                errors.append(_error(("outbound", i, "name"), f"route {r.name!r} is defined twice"))
            route_names.add(r.name)
            for j, ref in enumerate(r.trunks):
                if ref not in names:
                    errors.append(_error(("outbound", i, "trunks", j), f"unknown trunk {ref!r}"))
        raise_errors("TrunksConfig", errors)
        return self

    def trunk(self, name: str) -> TrunkConfig:
        for t in self.carriers:
            if t.name == name:
                return t
        raise KeyError(name)

    @property
    def transports(self) -> set[str]:
        return {t.transport for t in self.carriers}

    @property
    def registers(self) -> bool:
        return any(t.registration is not None for t in self.carriers)


class PhoneAgent(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def sip_secret(self) -> SecretStr | None: ...


def weak_secret(secret: str, agent_id: str) -> str | None:
    """Why a SIP secret is too weak to put on a network (None when strong enough).

    SIP scanners (sipvicious' svcrack) try short and guessable secrets at thousands per second.
    """
    if len(secret) < 16:
        return "must be at least 16 characters"
    if agent_id in secret:
        return "must not contain the agent id"
    if len(set(secret)) < 8:
        return "must have at least 8 different characters"
    return None


def check_references(
    trunks: TrunksConfig, *, hotlines: Iterable[str], queues: Iterable[str], agents: Sequence[PhoneAgent]
) -> None:
    """Cross-section rules (DID → hotline/queue, route caller ID, SIP phone secrets).

    Raises one ValidationError whose locations are absolute key paths (``trunks.carriers.0.dids.1.queue``).
    """
    hotline_set = set(hotlines)
    queue_set = set(queues)
    errors: list[InitErrorDetails] = []
    for i, t in enumerate(trunks.carriers):
        for j, d in enumerate(t.dids):
            loc: tuple[Any, ...] = ("trunks", "carriers", i, "dids", j)
            if d.hotline is not None and d.hotline not in hotline_set:
                errors.append(_error((*loc, "hotline"), f"{d.hotline!r} is not one of hotline.numbers"))
            if d.queue is not None and d.queue not in queue_set:
                errors.append(_error((*loc, "queue"), f"unknown queue {d.queue!r}"))
    agent_ids = {a.id for a in agents}
    for i, r in enumerate(trunks.outbound):
        if r.caller_id is not None and r.caller_id not in hotline_set:
            why = "an agent's extension" if r.caller_id in agent_ids else "not one of hotline.numbers"
            errors.append(
                _error(("trunks", "outbound", i, "caller_id"), f"{r.caller_id!r} is {why}: present a hotline")
            )
    for i, a in enumerate(agents):
        if a.phone != "pjsip":
            continue
        if a.sip_secret is None:
            errors.append(_error(("agents", i, "sip_secret"), "a 'phone: pjsip' agent needs a sip_secret"))
            continue
        weak = weak_secret(a.sip_secret.get_secret_value(), a.id)
        if weak:
            errors.append(_error(("agents", i, "sip_secret"), f"the SIP secret {weak}"))
    raise_errors("Settings", errors)
