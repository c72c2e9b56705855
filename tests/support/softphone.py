"""The desktop softphone in the test deployment: a WebRTC agent and its queue, the WSS listener's
ports and a local CA's certificate written where the sandbox's Asterisk reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from asterisk_conf.certs import LocalCertificates, make_local_certificates
from tests.support.settings import base_config

WEBRTC_AGENT = "7201"
WEBRTC_QUEUE = "webq"
WEBRTC_SUPERVISOR = "7290"  # listens, whispers and barges from their own softphone
ARI_SECRET = "test-ari-secret-Qm7xW2"
CERT_DIR = "etc/asterisk/keys/tongdai-test"  # inside the sandbox root (Asterisk's own file system)

WEBRTC_QUEUES: list[dict[str, Any]] = [
    {"name": WEBRTC_QUEUE, "label": "Softphone", "wrapup": 0, "ring_timeout": 30, "members": []}
]


def webrtc_agents(auto_login: bool = False) -> list[dict[str, Any]]:
    """The softphone agent (a member of ``webq``) and a softphone supervisor."""
    return [
        {
            "id": WEBRTC_AGENT,
            "name": "Lê Thu Hà (WebRTC)",
            "phone": "webrtc",
            "auto_login": auto_login,
            "password_hash": base_config()["agents"][0]["password_hash"],
        },
        webrtc_supervisor(),
    ]


def webrtc_supervisor() -> dict[str, Any]:
    return {
        "id": WEBRTC_SUPERVISOR,
        "name": "Phan Quốc Bảo (WebRTC)",
        "role": "supervisor",
        "phone": "webrtc",
        "auto_login": False,
        "password_hash": base_config()["agents"][0]["password_hash"],
    }


def webrtc_config(wss_port: int, ari_port: int) -> dict[str, Any]:
    return {
        "bind": "127.0.0.1",
        "port": wss_port,
        "cert_file": f"/{CERT_DIR}/server.pem",
        "priv_key_file": f"/{CERT_DIR}/server.key",
        "ari_port": ari_port,
        "ari_secret": ARI_SECRET,
    }


def sandbox_certificates(root: Path) -> LocalCertificates:
    """A fresh local CA and server certificate (127.0.0.1, localhost) inside the sandbox root."""
    return make_local_certificates(root / CERT_DIR, ["127.0.0.1", "localhost"])
