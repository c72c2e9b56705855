"""config.yaml section ``recordings:``."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from recordings.crypto import RecordingKeyError, parse_key


class RecordingsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Where MixMonitor writes (Asterisk's monitor spool as the bridge sees it).
    dir: Path = Path("/var/spool/asterisk/monitor")
    retention_days: int = Field(365, ge=1, le=3650)
    # How long to wait for Asterisk to close a file after the call ends before reporting it missing.
    settle_seconds: float = Field(5.0, gt=0, le=120)
    # Optional encryption at rest (AES-256-GCM): base64 of 32 bytes, from `tongdai recordings keygen`.
    # Best supplied by the environment: TONGDAI__RECORDINGS__ENCRYPTION_KEY.
    encryption_key: SecretStr | None = None

    @field_validator("encryption_key")
    @classmethod
    def _valid_key(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            try:
                parse_key(v.get_secret_value())
            except RecordingKeyError as err:
                raise ValueError(str(err)) from None
        return v

    def key(self) -> bytes | None:
        return parse_key(self.encryption_key.get_secret_value()) if self.encryption_key else None
