"""An active bridge and a standby: the ``ha`` section, the FastAGI addresses the dialplan tries in
turn, and the lease keeper's own bounds."""

from __future__ import annotations

import pytest

from asterisk_conf.render import render_all
from core.errors import ConfigError
from core.lease import LeaseKeeper, RedisLease
from tests.support.settings import REPO, make_settings
from tongdai.settings import parse_config


def shipped() -> str:
    return (REPO / "config.yaml").read_text(encoding="utf-8")


def test_ha_is_off_by_default_and_auto_needs_redis() -> None:
    assert parse_config(shipped(), env={}).ha.role == "single"
    text = shipped() + "\nha:\n  role: auto\n"
    with pytest.raises(ConfigError, match=r"ha\.role.*needs redis\.url"):
        parse_config(text, env={})
    s = parse_config(text, env={"TONGDAI__REDIS__URL": "redis://10.0.0.9:6379/0"})
    assert (s.ha.role, s.ha.lease_ttl, s.ha.node_id) == ("auto", 5.0, None)


@pytest.mark.parametrize("bad", ["10.0.0.6", "10.0.0.6:0", "10.0.0.6:99999", "a b:4573", "x;y:4573"])
def test_a_fastagi_address_must_be_host_and_port(bad: str) -> None:
    with pytest.raises(ValueError, match=r"asterisk\.agi\.addresses"):
        make_settings(asterisk={"agi": {"addresses": ["127.0.0.1:4573", bad]}})


def test_the_dialplan_tries_each_bridge_in_turn_while_there_is_no_decision() -> None:
    s = make_settings(asterisk={"agi": {"addresses": ["10.0.0.5:4573", "10.0.0.6:4573"]}})
    conf = render_all(s)["extensions.conf"]
    assert "TONGDAI_AGI = agi://10.0.0.5:4573\nTONGDAI_AGI_2 = agi://10.0.0.6:4573\n" in conf
    for route in ("ivr", "exit"):
        first = conf.index(f"AGI(${{TONGDAI_AGI}}/{route})")
        second = conf.index(f'ExecIf($["${{TONGDAI_ACTION}}" = ""]?AGI(${{TONGDAI_AGI_2}}/{route}))')
        assert first < second < first + 300  # right after the first attempt


def test_a_single_bridge_dialplan_has_one_address() -> None:
    s = make_settings()
    conf = render_all(s)["extensions.conf"]
    assert f"TONGDAI_AGI = agi://127.0.0.1:{s.asterisk.agi.port}\n" in conf
    assert "TONGDAI_AGI_2" not in conf


def test_the_keeper_steps_down_inside_the_ttl() -> None:
    lease = RedisLease(None, "k", "n", 5.0)  # type: ignore[arg-type]  # no I/O here

    async def noop(token: int) -> None: ...

    keeper = LeaseKeeper(lease, on_active=noop, on_passive=noop)
    assert 0 < keeper.margin < keeper.ttl and keeper.renew_every * 3 + keeper.margin == pytest.approx(5.0)
    assert not keeper.holding() and keeper.role == "passive"
    with pytest.raises(ValueError, match="margin"):
        LeaseKeeper(lease, on_active=noop, on_passive=noop, margin=5.0)
