"""config.yaml section ``webchat:``: the customer chat and callback form on the operator's website.

Off unless ``webchat.enabled``. ``allowed_origins`` names the operator's site(s) allowed to embed the
widget (websocket ``Origin`` and the callback form's CORS); ``portal_secret`` is the HMAC key the
operator's portal signs its customers' tokens with (webchat/portal_token.py); without it a customer is
known only by the phone number they type.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from core.config import RetentionKind


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatQueueConfig(_Section):
    # An ACD queue (``queues:``): the chat's skill. Its members take its chats.
    name: str = Field(min_length=1, max_length=64)
    label_vi: str = ""
    label_en: str = ""
    no_chat_while_on_call: bool = True
    offer_callback_after: float = Field(180.0, gt=0, le=3600)  # seconds waiting before the form is offered


class CallbackFormConfig(_Section):
    per_number_per_day: int = Field(3, ge=1, le=100)
    per_ip_per_hour: int = Field(10, ge=1, le=10_000)
    # Abuse guard: a signed form token (it cannot be forged or reused), a form filled no faster than a
    # person can, and a proof of work the browser pays once (about 2^bits hashes; 16 ≈ 0.1 s).
    pow_bits: int = Field(16, ge=0, le=24)
    min_fill_seconds: float = Field(2.0, ge=0, le=60)
    token_ttl_seconds: int = Field(900, ge=60, le=86_400)
    max_days_ahead: int = Field(7, ge=0, le=30)


class WebchatConfig(_Section):
    enabled: bool = False
    allowed_origins: list[str] = []
    portal_secret: SecretStr | None = None
    token_max_lifetime: int = Field(3600, ge=60, le=86_400)
    max_message_bytes: int = Field(16_384, ge=256, le=65_536)  # UTF-8 bytes of one message
    max_messages_per_minute: int = Field(30, ge=1, le=600)  # per customer socket
    max_chats_per_agent: int = Field(3, ge=1, le=20)
    # An agent holding chats with no desktop page open this long: their chats go back to the queue.
    agent_away_seconds: float = Field(30.0, gt=0, le=3600)
    # A customer whose socket closed (a reload) may take the chat up again this long with its secret.
    resume_seconds: float = Field(60.0, ge=0, le=3600)
    hello_timeout: float = Field(10.0, gt=0, le=120)  # seconds a new socket has to say who it is
    queues: list[ChatQueueConfig] = []
    callback: CallbackFormConfig = CallbackFormConfig()
    # Transcripts are personal data: purged by the node's scheduled retention after keep_days (the
    # legal hold's customers and chat ids are kept).
    retention: RetentionKind = RetentionKind(keep_days=365)
    # Chat service level in the reports (GET /api/reports/chat-service-level): answered within this.
    sl_threshold_seconds: float = Field(60.0, gt=0, le=3600)
    sl_target: float = Field(0.8, gt=0, le=1)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        for o in v:
            if not o.startswith(("https://", "http://")) or o.endswith("/") or o.count("/") != 2:
                raise ValueError(f"{o!r} is not an origin like 'https://www.example.vn'")
        return v

    @field_validator("portal_secret")
    @classmethod
    def _secret(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value().encode()) < 32:
            raise ValueError("the portal secret must be at least 32 bytes (HS256's key length)")
        return v

    def queue(self, name: str) -> ChatQueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)
