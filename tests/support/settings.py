"""Build test Settings from the shipped config.yaml plus overrides (deep-merged)."""

from __future__ import annotations

import copy
import random
import socket
from pathlib import Path
from typing import Any

import yaml

from tongdai.settings import Settings

REPO = Path(__file__).resolve().parents[2]


# Ports for the tests' listeners come from above the kernel's ephemeral range (32768-60999 on Linux)
# and outside Asterisk's RTP range (rtp.conf: 10000-30000): a port the kernel handed out for an outgoing
# connection (of any process: SIPp, Chromium, a bridge) or Asterisk took for media between our pick and
# our listener's bind cannot collide with it. Each port is given once per process.
_PORTS = range(61000, 65536)
_given: set[int] = set()
_rng = random.Random()


def _bindable(port: int, ip: str) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((ip, port))
            except OSError:
                return False
    return True


def free_port(ip: str = "127.0.0.1") -> int:
    """A port free for TCP and UDP on ``ip`` that this process has not handed out before."""
    for _ in range(200):
        port = _rng.choice(_PORTS)
        if port not in _given and _bindable(port, ip):
            _given.add(port)
            return port
    raise RuntimeError("no free port in 61000-65535")


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def shipped_config() -> dict[str, Any]:
    """config.yaml exactly as shipped (demo secrets, not in demo mode: a node refuses to start on it)."""
    data: dict[str, Any] = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    return data


def base_config() -> dict[str, Any]:
    """The shipped config.yaml in demo mode: every test node listens on loopback only, where the
    shipped secrets and demo passwords are accepted (tongdai/startup_checks.py)."""
    return {**shipped_config(), "demo": True}


def make_settings(**over: Any) -> Settings:
    # Never the default FastAGI port: a test bridge must not collide with another bridge or test.
    data = deep_merge(deep_merge(base_config(), {"asterisk": {"agi": {"port": free_port()}}}), over)
    if "ivr" in over:  # an IVR tree is replaced whole, never merged node by node
        data["ivr"] = copy.deepcopy(over["ivr"])
    return Settings.model_validate(data)


# The vertical slice's IVR: one menu, "press 1 for mobile, 2 for internet".
SIMPLE_IVR: dict[str, Any] = {
    "default_language": "vi",
    "languages": ["vi", "en"],
    "entry": "main",
    "fallback": "agent",
    "input": {"timeout_ms": 4000, "retries": 1},
    "nodes": {
        "main": {"type": "menu", "prompt": "main_menu", "options": {"1": "mobile", "2": "internet"}},
        "mobile": {"type": "transfer", "queue": "mobile", "label": "Di động"},
        "internet": {"type": "transfer", "queue": "internet", "label": "Internet"},
        "agent": {"type": "transfer", "queue": "care", "label": "Tổng đài viên"},
    },
}

TEST_QUEUES: list[dict[str, Any]] = [
    {"name": "mobile", "label": "Di động", "wrapup": 0, "members": [{"agent": "1001"}]},
    {"name": "internet", "label": "Internet", "wrapup": 0, "members": [{"agent": "1002"}]},
    {"name": "tv", "label": "Truyền hình", "wrapup": 0, "members": [{"agent": "1003"}]},
    {"name": "billing", "label": "Cước", "wrapup": 0, "members": [{"agent": "1003"}]},
    {"name": "care", "label": "Tổng đài viên", "wrapup": 0, "members": [{"agent": "1003"}]},
]
