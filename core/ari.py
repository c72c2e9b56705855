"""A minimal client of Asterisk's REST interface (ARI) for its dynamic configuration only: create,
replace and delete sorcery objects held by a writable wizard (``sorcery.conf``), e.g. the desktop
softphones' PJSIP auths. Nothing else of ARI (channels, Stasis) is used by tongdai."""

from __future__ import annotations

import logging
from urllib.parse import quote

import aiohttp

from core.errors import ExternalServiceError
from core.protocol_safety import check_line_value

log = logging.getLogger(__name__)

__all__ = ["AriClient", "AriError"]


class AriError(ExternalServiceError):
    error_id = "asterisk.ari_failed"


class AriClient:
    """``base_url`` is Asterisk's HTTP server (``http://127.0.0.1:8088``); one pooled session,
    opened on first use and closed by :meth:`close`."""

    def __init__(self, base_url: str, username: str, secret: str, *, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/") + "/ari"
        self._headers = {"Authorization": aiohttp.encode_basic_auth(username, secret)}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    def _url(self, config_class: str, object_type: str, object_id: str) -> str:
        parts = (config_class, object_type, object_id)
        for p in parts:
            check_line_value(p, "ARI object id")
        return f"{self._base}/asterisk/config/dynamic/" + "/".join(quote(p, safe="") for p in parts)

    async def put_object(
        self, config_class: str, object_type: str, object_id: str, fields: dict[str, str]
    ) -> None:
        """Create or replace the object (every field given; the others keep their defaults)."""
        body = {"fields": [{"attribute": k, "value": v} for k, v in fields.items()]}
        url = self._url(config_class, object_type, object_id)
        try:
            async with self._http().put(url, json=body) as r:
                if r.status != 200:
                    raise AriError(
                        f"ARI refused {object_type} {object_id}: {r.status} {(await r.text())[:200]}"
                    )
        except (aiohttp.ClientError, TimeoutError) as err:
            raise AriError(f"ARI unreachable at {self._base}: {err!r}") from err

    async def delete_object(self, config_class: str, object_type: str, object_id: str) -> bool:
        """Delete the object; False if there was none."""
        url = self._url(config_class, object_type, object_id)
        try:
            async with self._http().delete(url) as r:
                if r.status == 404:
                    return False
                if r.status not in (200, 204):
                    raise AriError(f"ARI refused deleting {object_type} {object_id}: {r.status}")
                return True
        except (aiohttp.ClientError, TimeoutError) as err:
            raise AriError(f"ARI unreachable at {self._base}: {err!r}") from err

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
