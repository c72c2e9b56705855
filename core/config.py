"""config.yaml: one validated description of the whole deployment.

Loading is ``yaml.safe_load`` → environment overrides (secrets) → pydantic validation. Any problem is
raised as one :class:`ConfigError` listing every bad key by dotted path with its line in the file, so
the service refuses to start rather than half-start.

Environment overrides: ``TONGDAI__ASTERISK__AMI__SECRET=...`` sets ``asterisk.ami.secret`` (double
underscore separates levels). They are meant for secrets; any scalar key may be overridden.

Core defines the deployment-wide sections (:class:`CoreSettings`: node, hotline, Asterisk, database,
Redis, web, queues, agents). Each feature package declares its own section(s) as a :class:`Section`
mixin in its ``component.py`` together with the cross-section checks it needs; the composition root
(``tongdai.settings``) assembles the complete model from them and hands it to :func:`parse_config`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from core.errors import ConfigError
from core.survey_config import SurveyConfig

ENV_PREFIX = "TONGDAI__"
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,38}")  # always fullmatch: "$" would let a trailing newline in


# --- values rendered into Asterisk's *.conf files ---------------------------------------------------
# Asterisk's config syntax escapes nothing: a CR or LF ends the line, so the rest of a value becomes a
# line of its own (a new "[section]", "#include", "#exec" or key); ";" starts a comment that silently
# cuts the value (a secret, a name); NUL and other controls end or corrupt it. Every config value that
# asterisk_conf/ renders is typed with one of the types below (a test injects into each rendered value).
_CONF_BREAKERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029;]")
_CONF_NAMES = {"\n": "a line feed (LF)", "\r": "a carriage return (CR)", "\x00": "a NUL byte", ";": "';'"}


def conf_safe(value: str) -> str:
    """``value`` unchanged, or a validation error saying which character would break Asterisk's config."""
    bad = _CONF_BREAKERS.search(value)
    if bad is not None:
        ch = bad.group()
        what = _CONF_NAMES.get(ch, f"the control character U+{ord(ch):04X}")
        raise PydanticCustomError(
            "asterisk_conf_unsafe",
            "holds {what} at position {pos}: it would break Asterisk's configuration (a line break starts "
            "a new line, ';' a comment), so it is not allowed in a value written to Asterisk's *.conf",
            {"what": what, "pos": bad.start() + 1},
        )
    if value != value.strip():
        raise PydanticCustomError(
            "asterisk_conf_unsafe", "starts or ends with spaces: Asterisk would strip them from the value"
        )
    if value.startswith(("[", "#")):
        raise PydanticCustomError(
            "asterisk_conf_unsafe", "must not start with '[' or '#' (Asterisk's section and include syntax)"
        )
    return value


def _conf_safe_input(value: object) -> object:
    # Before the field's own checks (patterns, SecretStr, Path): a line break is always reported as
    # such, and a secret's message names the character, never the secret.
    if isinstance(value, str):
        conf_safe(value)
    return value


AsteriskText = Annotated[str, BeforeValidator(_conf_safe_input)]
AsteriskSecret = Annotated[SecretStr, BeforeValidator(_conf_safe_input)]
AsteriskPath = Annotated[Path, BeforeValidator(_conf_safe_input)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeConfig(Section):
    name: str = "tongdai-1"
    data_dir: Path = Path("var")


class HotlineConfig(Section):
    numbers: list[str] = Field(min_length=1)
    # Calls to these numbers enter the IVR; the first one is what the demo dials.

    @field_validator("numbers")
    @classmethod
    def _digits(cls, v: list[str]) -> list[str]:
        for n in v:
            if not re.fullmatch(r"[0-9]{3,15}", n):
                raise ValueError(f"hotline number {n!r} must be 3-15 digits")
        return v


class AmiConfig(Section):
    host: AsteriskText = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    # manager.conf's section name: "[username]".
    username: AsteriskText = Field("tongdai", pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    secret: AsteriskSecret
    # Allowed to connect to AMI (manager.conf permit); loopback by default.
    permit: list[AsteriskText] = ["127.0.0.1/255.255.255.255"]
    ping_interval: float = Field(5.0, gt=0)
    ping_timeout: float = Field(3.0, gt=0)
    action_timeout: float = Field(5.0, gt=0)
    reconnect_min: float = Field(0.5, gt=0)
    reconnect_max: float = Field(30.0, gt=0)

    @field_validator("username")
    @classmethod
    def _not_general(cls, v: str) -> str:
        if v.lower() == "general":  # manager.conf's [general] holds settings, not a user
            raise ValueError("'general' is reserved by Asterisk's manager.conf; choose another name")
        return v

    @field_validator("permit")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                ipaddress.ip_network(p, strict=False)
            except ValueError as err:
                raise ValueError(
                    f"{p!r} is not an address or network (e.g. 10.0.0.5/255.255.255.255)"
                ) from err
        return v


class AgiConfig(Section):
    bind: AsteriskText = "127.0.0.1"
    port: int = Field(4573, ge=0, le=65535)
    # The address Asterisk dials (agi://host:port/...); differs from bind behind NAT.
    advertise_host: AsteriskText = Field("127.0.0.1", pattern=r"^[A-Za-z0-9.:\[\]-]{1,253}$")
    allowed_peers: list[str] = ["127.0.0.1", "::1"]
    header_timeout: float = Field(2.0, gt=0)
    max_header_bytes: int = Field(16384, ge=1024)
    command_timeout: float = Field(30.0, gt=0)
    # Concurrent sessions (header being read or IVR running); past a cap the connection is closed at
    # once and the dialplan falls back to the default queue. Per peer: one Asterisk's calls in the IVR,
    # 2.5x the 200 the FastAGI bench holds and more than 16 E1s (480 channels) could bring at once; in
    # all: four Asterisk nodes at their cap. A flood from one host cannot take every socket.
    max_sessions_per_peer: int = Field(500, ge=1)
    max_sessions: int = Field(2000, ge=1)
    # No database or CRM work may hold a caller longer than this; past it the call goes to the default queue.
    decision_budget: float = Field(1.5, gt=0)
    # Every bridge's FastAGI address for this Asterisk ("host:port"), in the order the dialplan tries
    # them (an active bridge and its standby, docs/operations.md). Empty: advertise_host:port alone.
    addresses: list[AsteriskText] = []

    @field_validator("addresses")
    @classmethod
    def _host_ports(cls, v: list[str]) -> list[str]:
        for a in v:
            host_port = re.fullmatch(r"[A-Za-z0-9.\[\]:-]{1,253}:([0-9]{1,5})", a)
            if host_port is None or not 0 < int(host_port.group(1)) < 65536:
                raise ValueError(f"{a!r} is not host:port (e.g. 10.0.0.6:4573)")
        return v

    def dial_addresses(self) -> list[str]:
        """What the dialplan's AGI() tries, in order."""
        return list(self.addresses) or [f"{self.advertise_host}:{self.port}"]

    @field_validator("allowed_peers")
    @classmethod
    def _ips(cls, v: list[str]) -> list[str]:
        for p in v:
            ipaddress.ip_network(p, strict=False)
        return v


class SipConfig(Section):
    port: int = Field(5060, ge=1, le=65535)
    bind: AsteriskText = "127.0.0.1"


class WebrtcConfig(Section):
    """Asterisk's side of the desktop softphone (docs/softphone.md): its HTTP server's TLS listener
    carries SIP over secure WebSocket (WSS) for ``phone: webrtc`` agents; tongdai gives each desktop
    session a fresh SIP password through ARI, on the plain listener kept on loopback."""

    bind: AsteriskText = "127.0.0.1"  # the TLS listener (wss://bind:port/ws); 0.0.0.0 for agents' browsers
    port: int = Field(8089, ge=1, le=65535)
    # PEM files as Asterisk reads them (its own file system); also the DTLS-SRTP certificate.
    cert_file: AsteriskText
    priv_key_file: AsteriskText
    # The WebSocket URL the browsers connect to (a name on the certificate); default wss://bind:port/ws.
    ws_url: str | None = Field(None, pattern=r"^wss://[^\s/]+(:\d+)?/ws$")
    # SIP domain of the agents' URIs (sip:<agent>@domain); default: the WebSocket URL's host.
    sip_domain: AsteriskText | None = None
    # ARI, on Asterisk's plain HTTP listener (bound to 127.0.0.1 only), for the per-session passwords.
    ari_port: int = Field(8088, ge=1, le=65535)
    ari_username: AsteriskText = Field("tongdai", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ari_secret: AsteriskSecret
    # A registration lasts at most this long without a refresh (the browser refreshes well before).
    max_registration_seconds: int = Field(300, ge=60, le=3600)

    @model_validator(mode="after")
    def _url_for_wildcard(self) -> Self:
        if self.ws_url is None and self.bind in ("0.0.0.0", "::", "[::]"):
            raise ValueError("ws_url: a wildcard bind needs the URL browsers use (wss://<cert name>:port/ws)")
        return self

    @property
    def url(self) -> str:
        return self.ws_url or f"wss://{self.bind}:{self.port}/ws"

    @property
    def domain(self) -> str:
        return self.sip_domain or self.url.removeprefix("wss://").split("/")[0].rsplit(":", 1)[0]


class AsteriskConfig(Section):
    system_name: str = Field("tongdai-ast1", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    ami: AmiConfig
    agi: AgiConfig = AgiConfig()
    sip: SipConfig = SipConfig()
    # Where `tongdai asterisk-conf render` writes by default.
    config_dir: Path = Path("/etc/asterisk")
    record_calls: bool = True
    webrtc: WebrtcConfig | None = None  # needed by "phone: webrtc" agents


class DatabaseConfig(Section):
    url: str = "sqlite+aiosqlite:///var/tongdai.db"

    @field_validator("url")
    @classmethod
    def _driver(cls, v: str) -> str:
        if not (v.startswith("sqlite+aiosqlite://") or v.startswith("postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db")
        return v


class RedisConfig(Section):
    url: str | None = None  # optional on one node; carries events between processes when set
    channel: str = "tongdai.events"
    # Prefix of the keys the nodes share (agent states): one Redis can hold several deployments.
    key_prefix: str = Field("tongdai:", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # Every Redis call gives up after these (seconds): a hung Redis must fail fast, never hang a task.
    socket_timeout: float = Field(2.0, gt=0, le=60)
    socket_connect_timeout: float = Field(2.0, gt=0, le=60)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.asyncio.from_url`` (timeouts, keepalive, health checks)."""
        return {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_connect_timeout,
            "socket_keepalive": True,
            "health_check_interval": 15,
        }


class RetentionKind(Section):
    """One kind of data the node purges itself: every ``every_hours``, what is older than ``keep_days``
    (None: never purged, or for recordings ``recordings.retention_days``)."""

    enabled: bool = True
    every_hours: float = Field(24.0, gt=0, le=24 * 31)
    keep_days: int | None = Field(None, ge=1, le=36500)


class LegalHold(Section):
    """Data under legal hold is never purged: every recording, CDR and audit row of these customers
    (customer ids) and calls (linkedids). Recordings flagged for a dispute are kept too."""

    customers: list[str] = []
    calls: list[str] = []


class RetentionConfig(Section):
    """Scheduled retention, run by the node itself (docs/operations.md)."""

    enabled: bool = True
    recordings: RetentionKind = RetentionKind()
    audit: RetentionKind = RetentionKind()  # audit_log: kept forever unless keep_days is set
    cdrs: RetentionKind = RetentionKind()  # cdrs and their rated lines: kept unless keep_days is set
    legal_hold: LegalHold = LegalHold()


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Browser origin(s) the desktop is served from; websocket upgrades from any other Origin are refused.
    allowed_origins: list[str] = ["http://127.0.0.1:8080", "http://localhost:8080"]
    session_secret: SecretStr
    secure_cookies: bool = False  # set true behind HTTPS
    language: Literal["vi", "en"] = "vi"
    # Server-held sessions (agent_desktop/sessions.py): ended after this long without a request or an
    # open desktop page, and this long after login whatever the activity.
    session_idle_minutes: float = Field(30, gt=0, le=24 * 60)
    session_lifetime_hours: float = Field(12, gt=0, le=7 * 24)

    @model_validator(mode="after")
    def _idle_within_lifetime(self) -> Self:
        if self.session_idle_minutes > self.session_lifetime_hours * 60:
            raise ValueError("session_idle_minutes must not exceed session_lifetime_hours")
        return self


class QueueMember(Section):
    agent: str
    penalty: int = Field(0, ge=0, le=100)


class QueueConfig(Section):
    name: AsteriskText
    label: AsteriskText = ""  # a comment in queues.conf
    skill: str = ""
    strategy: Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom"] = (
        "rrmemory"
    )
    ring_timeout: int = Field(15, ge=1, le=300)
    wrapup: int = Field(5, ge=0, le=600)
    max_wait: int = Field(600, ge=10)
    members: list[QueueMember] = []
    # The post-call survey the caller is moved to when the agent hangs up (ivr/survey.py).
    survey: SurveyConfig = SurveyConfig()

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("queue names are lower-case letters, digits, '-' and '_'")
        if v == "general":  # queues.conf's [general] section holds settings, not a queue
            raise ValueError("'general' is reserved by Asterisk's queues.conf; choose another name")
        return v


class AgentConfig(Section):
    id: str = Field(pattern=r"^[0-9]{3,6}$")  # also the agent's extension
    name: AsteriskText  # the SIP phone's caller ID in pjsip.conf
    role: Literal["agent", "supervisor", "admin"] = "agent"
    # scrypt hash made by `tongdai hash-password`; may come from the environment.
    password_hash: SecretStr
    # How Asterisk reaches the agent: "pjsip" (a phone registered as the agent id), "webrtc" (the
    # desktop's softphone, registered over WSS with a per-session password) or "local" (simulated).
    phone: Literal["pjsip", "webrtc", "local"] = "pjsip"
    sip_secret: AsteriskSecret | None = None
    # Logged in to its configured queues by the bridge after every AMI connect (acd/agents.py).
    # Unset: yes for simulated ("local") agents, no for real phones (they log in from the desktop).
    auto_login: bool | None = None
    # Skills-based routing (acd/routing.py): skill name → level 1 (can take the call) … 5 (expert); a
    # queue's ``skill`` makes its agents members, IVR nodes' ``skill:`` are offered to them first.
    skills: dict[str, int] = {}
    # Languages spoken besides the IVR's default one (e.g. [en]): such callers are offered them first.
    languages: list[str] = []

    @field_validator("skills")
    @classmethod
    def _skill_levels(cls, v: dict[str, int]) -> dict[str, int]:
        for name, level in v.items():
            if not _NAME.fullmatch(name):
                raise ValueError(f"skill {name!r}: lower-case letters, digits, '-' and '_'")
            if not 1 <= level <= 5:
                raise ValueError(f"skill {name!r}: level must be within 1..5, got {level}")
        return v

    @property
    def logs_in_automatically(self) -> bool:
        return self.auto_login if self.auto_login is not None else self.phone == "local"

    @property
    def interface(self) -> str:
        if self.phone == "local":
            return f"Local/{self.id}@tongdai-agents/n"
        return f"PJSIP/{self.id}"


# A cross-section check a component contributes: the problems it finds, each "dotted.key: what is wrong".
class HaConfig(Section):
    """An active bridge and a standby for one Asterisk (docs/operations.md). ``single``: this node is
    its Asterisk's only bridge (the default). ``auto``: contend for the lease in Redis; only its
    holder logs in to AMI and listens for FastAGI."""

    role: Literal["single", "auto"] = "single"
    # Seconds a holder's lease lives without renewal: the standby takes over this long after the
    # active node's last renewal (plus its poll interval and the AMI login's resync).
    lease_ttl: float = Field(5.0, ge=1, le=120)
    poll_interval: float = Field(0.5, gt=0, le=10)  # how often a standby tries to acquire
    node_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_.@-]{1,64}$")  # default: node.name


Check = Callable[[Any], Iterable[str]]


class CoreSettings(Section):
    """The sections every node has. The complete model (``tongdai.settings.Settings``) adds each
    component's sections and lists their cross-section checks in ``CHECKS``."""

    CHECKS: ClassVar[tuple[Check, ...]] = ()

    # Demo mode (also TONGDAI__DEMO=1; `tongdai demo` sets it): shipped and weak secrets are accepted,
    # but only while the desktop, FastAGI and AMI stay on loopback (tongdai/startup_checks.py). Never
    # behind a reverse proxy: that makes a loopback port reachable from the network.
    demo: bool = False
    node: NodeConfig = NodeConfig()
    hotline: HotlineConfig
    asterisk: AsteriskConfig
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    ha: HaConfig = HaConfig()
    retention: RetentionConfig = RetentionConfig()
    web: WebConfig
    queues: list[QueueConfig] = Field(min_length=1)
    default_queue: AsteriskText
    agents: list[AgentConfig] = []

    @model_validator(mode="after")
    def _references(self) -> Self:
        # One error listing every problem, core's and each component's, so one run shows them all.
        problems = list(self._core_problems())
        for check in type(self).CHECKS:
            problems.extend(check(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _core_problems(self) -> Iterable[str]:
        queues = {q.name for q in self.queues}
        agents = {a.id for a in self.agents}
        if len(queues) != len(self.queues):
            yield "queues: queue names must be unique"
        if len(agents) != len(self.agents):
            yield "agents: agent ids must be unique"
        if self.asterisk.webrtc is None:
            for i, a in enumerate(self.agents):
                if a.phone == "webrtc":
                    yield f"agents.{i}.phone: 'webrtc' needs asterisk.webrtc (its WSS listener, certificate)"
        if self.default_queue not in queues:
            yield f"default_queue: {self.default_queue!r} is not a queue in 'queues'"
        if self.ha.role == "auto" and not self.redis.url:
            yield "ha.role: 'auto' needs redis.url (the lease lives in Redis)"
        for i, q in enumerate(self.queues):
            for j, m in enumerate(q.members):
                if m.agent not in agents:
                    yield f"queues.{i}.members.{j}.agent: unknown agent {m.agent!r}"

    def queue(self, name: str) -> QueueConfig:
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)

    def agent(self, agent_id: str) -> AgentConfig | None:
        for a in self.agents:
            if a.id == agent_id:
                return a
        return None


M = TypeVar("M", bound=BaseModel)


# --- loading -----------------------------------------------------------------------------------


def _line_index(node: yaml.Node, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    """Map each dotted key path to the 1-based line where it is written."""
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = str(k.value)
            out[(*path, key)] = k.start_mark.line + 1
            _line_index(v, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, str(i)), out)


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        target: Any = data
        for k in keys[:-1]:
            if isinstance(target, list) and k.isdigit() and int(k) < len(target):
                target = target[int(k)]
                continue
            if not isinstance(target, dict):
                raise ConfigError(f"{name}: cannot set {'.'.join(keys)} (not a mapping)")
            target = target.setdefault(k, {})
        if isinstance(target, list) and keys[-1].isdigit():
            target[int(keys[-1])] = value
        elif isinstance(target, dict):
            target[keys[-1]] = value
        else:
            raise ConfigError(f"{name}: cannot set {'.'.join(keys)}")


_PROBLEM = re.compile(r"^(?P<path>[A-Za-z_][\w-]*(?:\.[\w-]+)*): (?P<msg>.+)$", re.S)


def _problems(e: Any) -> list[tuple[list[str], str, str]]:
    """(location, message, type) of one pydantic error; a top-level check's "; "-joined problems that
    each start with a dotted key path are split and located there, so they get their line too."""
    raw = [str(p) for p in e["loc"]]
    msg = str(e["msg"]).removeprefix("Value error, ")
    if raw or e["type"] != "value_error":
        return [(raw, str(e["msg"]), e["type"])]
    out: list[tuple[list[str], str, str]] = []
    for part in msg.split("; "):
        m = _PROBLEM.match(part)
        if m is None:
            return [(raw, str(e["msg"]), e["type"])]
        out.append((m["path"].split("."), m["msg"], "value_error"))
    return out


_PLAIN = {"extra_forbidden": "unknown key (misspelt?)", "missing": "required key is missing"}


def _format_errors(err: ValidationError, lines: dict[tuple[str, ...], int], source: str) -> str:
    out: list[str] = []
    for raw, msg, kind in (p for e in err.errors() for p in _problems(e)):
        # Pydantic puts union tags (e.g. a node's "transfer" type) in the location: keep only parts
        # that are real keys in the file, plus the last one (a missing key is not in the file).
        kept: list[str] = []
        for i, part in enumerate(raw):
            if (*kept, part) in lines or i == len(raw) - 1:
                kept.append(part)
        loc = tuple(kept)
        key = ".".join(loc) or "(top level)"
        line = None
        probe = loc
        while probe and line is None:
            line = lines.get(probe)
            probe = probe[:-1]
        where = f" (line {line})" if line else ""
        text = _PLAIN.get(kind, msg)
        out.append(f"  {key}{where}: {text}")
    return f"{source}: invalid configuration:\n" + "\n".join(out)


def key_lines(path: str | Path) -> dict[str, int]:
    """Dotted key path → the line it is written on in the YAML file at ``path`` ({} if unreadable),
    so checks made after validation (secrets at start-up) can point at the line too."""
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _line_index(node, (), lines)
    return {".".join(k): v for k, v in lines.items() if k}


def line_of(lines: Mapping[str, int], dotted: str) -> int | None:
    """The line of ``dotted`` or of its nearest parent written in the file (a default is not)."""
    parts = dotted.split(".")
    while parts:
        line = lines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return None


def parse_config(
    model: type[M], text: str, source: str = "config.yaml", env: Mapping[str, str] | None = None
) -> M:
    """Validate config text as ``model``; raise ConfigError naming every bad key and its line."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _line_index(node, (), lines)
    _apply_env(data, os.environ if env is None else env)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, lines, source)) from None


def load_config(model: type[M], path: str | Path, env: Mapping[str, str] | None = None) -> M:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the configuration: {err.strerror}") from err
    return parse_config(model, text, str(p), env)
