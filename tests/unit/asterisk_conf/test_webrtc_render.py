"""The rendered Asterisk configuration for the desktop softphone: the TLS listener and ARI on
Asterisk's HTTP server, the WSS transport, WebRTC endpoints with in-memory auths, the pre-dial
header that carries the call's id; and the config errors for a softphone without its listener."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from asterisk_conf.render import render_all
from tests.support.settings import base_config, make_settings

WEBRTC: dict[str, Any] = {
    "bind": "127.0.0.1",
    "port": 8089,
    "cert_file": "/etc/asterisk/keys/server.pem",
    "priv_key_file": "/etc/asterisk/keys/server.key",
    "ari_secret": "ari-Xk7-qP2w-Lm9z",
}


def agents(phone: str = "webrtc") -> list[dict[str, Any]]:
    return [*base_config()["agents"], {**base_config()["agents"][0], "id": "7201", "phone": phone}]


def section(text: str, name: str, nth: int = 0) -> str:
    start = -1
    for _ in range(nth + 1):
        start = text.index(f"[{name}]\n", start + 1)
    end = text.find("\n[", start + 1)
    return text[start : end if end > 0 else None]


def rendered(**webrtc: Any) -> dict[str, str]:
    return render_all(make_settings(asterisk={"webrtc": {**WEBRTC, **webrtc}}, agents=agents()))


def test_http_server_serves_wss_on_tls_and_ari_on_loopback_only() -> None:
    http = rendered(bind="0.0.0.0", ws_url="wss://phone.example.vn:8089/ws")["http.conf"]
    assert "enabled = yes" in http and "tlsenable = yes" in http
    assert "tlsbindaddr = 0.0.0.0:8089" in http
    assert "bindaddr = 127.0.0.1\nbindport = 8088" in http  # ARI never beside the browsers' listener
    assert "tlscertfile = /etc/asterisk/keys/server.pem" in http
    ari = rendered()["ari.conf"]
    assert "read_only = no" in ari and "password = ari-Xk7-qP2w-Lm9z" in ari


def test_webrtc_endpoint_is_webrtc_ready_with_an_in_memory_auth() -> None:
    conf = rendered()
    pjsip = conf["pjsip.conf"]
    assert "protocol = wss" in section(pjsip, "transport-wss")
    ep = section(pjsip, "7201")
    for line in (
        "transport = transport-wss",
        "webrtc = yes",
        "allow = opus,ulaw,alaw",
        "auth = 7201-webrtc",
        "dtls_cert_file = /etc/asterisk/keys/server.pem",
        "context = tongdai-phones",
    ):
        assert line in ep, line
    aor = section(pjsip, "7201", 1)
    assert "max_contacts = 1" in aor and "remove_existing = yes" in aor
    assert "maximum_expiration = 300" in aor
    # Its password is nowhere in the files: ARI puts it in memory, per desktop session.
    assert "[7201-webrtc]" not in pjsip
    sorcery = conf["sorcery.conf"]
    assert "auth = config,pjsip.conf,criteria=type=auth\nauth = memory" in sorcery


def test_queue_calls_carry_the_linkedid_to_pjsip_agents() -> None:
    ext = rendered()["extensions.conf"]
    assert "Set(PJSIP_HEADER(add,X-Tongdai-Linkedid)=${CHANNEL(linkedid)})" in section(ext, "tongdai-predial")
    queue_lines = [ln for ln in ext.splitlines() if ",Queue(" in ln]
    assert queue_lines and all("b(tongdai-predial^s^1)" in ln for ln in queue_lines)
    assert "exten => 7201,1,Dial(PJSIP/7201,30)" in section(ext, "tongdai-phones")


def test_without_webrtc_the_http_server_and_ari_are_off() -> None:
    conf = render_all(make_settings())
    assert "enabled = no" in conf["http.conf"] and "enabled = no" in conf["ari.conf"]
    assert "[res_pjsip]" not in conf["sorcery.conf"]
    assert "transport-wss" not in conf["pjsip.conf"]


def test_a_webrtc_agent_needs_the_listener_and_a_wildcard_bind_needs_the_url() -> None:
    with pytest.raises(ValidationError, match=r"agents\.\d+\.phone: 'webrtc' needs asterisk\.webrtc"):
        make_settings(agents=agents())
    with pytest.raises(ValidationError, match="ws_url"):
        make_settings(asterisk={"webrtc": {**WEBRTC, "bind": "0.0.0.0"}}, agents=agents())
    w = make_settings(asterisk={"webrtc": WEBRTC}, agents=agents()).asterisk.webrtc
    assert w is not None and w.url == "wss://127.0.0.1:8089/ws" and w.domain == "127.0.0.1"
