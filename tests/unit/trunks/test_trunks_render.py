"""The rendered Asterisk configuration for trunks, routes and phones (what Asterisk is told)."""

from __future__ import annotations

from typing import Any

from asterisk_conf.render import render_all
from tests.support.settings import base_config, make_settings

STRONG = "kT9-vQ2m-Lx7p-Rw4z"


def trunks() -> dict[str, Any]:
    return {
        "carriers": [
            {
                "name": "viettel",
                "host": "10.0.0.1",
                "match": ["10.0.0.0/29"],
                "max_channels": 4,
                "dids": [
                    {"number": "+8418001090", "hotline": "18001090"},
                    {"number": "02437001234", "queue": "billing"},
                ],
            },
            {
                "name": "vnpt",
                "host": "10.0.1.1",
                "transport": "tcp",
                "registration": {"username": "tongdai", "secret": "reg-secret"},
            },
        ],
        "outbound": [{"name": "mobile", "patterns": ["0[35789]XXXXXXXX"], "trunks": ["viettel", "vnpt"]}],
    }


def rendered(**over: Any) -> dict[str, str]:
    agents = [
        *base_config()["agents"],
        {**base_config()["agents"][0], "id": "7101", "phone": "pjsip", "sip_secret": STRONG},
    ]
    return render_all(make_settings(trunks=trunks(), agents=agents, **over))


def section(text: str, name: str) -> str:
    start = text.index(f"[{name}]\n")
    end = text.find("\n[", start + 1)
    return text[start : end if end > 0 else None]


def test_trunk_context_holds_only_its_dids_in_every_carrier_form() -> None:
    ext = section(rendered()["extensions.conf"], "tongdai-trunk-viettel")
    for form in ("18001090", "8418001090", "+8418001090", "02437001234", "842437001234", "+842437001234"):
        assert f"exten => {form},1,Gosub(tongdai-trunk-in,s,1(viettel,4))" in ext
    assert ext.count("exten =>") == 6  # nothing else: no pattern, no include
    assert "include" not in ext and "exten => _" not in ext  # no include, no pattern
    assert "Goto(tongdai-hotline,18001090,1)" in ext and "Set(TONGDAI_QUEUE=billing)" in ext


def test_pjsip_identifies_trunks_by_address_and_registration() -> None:
    pj = rendered()["pjsip.conf"]
    assert "endpoint_identifier_order = ip,username" in pj
    assert "type = identify\nendpoint = trunk-viettel\nmatch = 10.0.0.0/29" in pj
    assert "context = tongdai-trunk-viettel" in pj and "allow_overlap = no" in pj
    assert "[transport-tcp]" in pj and "server_uri = sip:10.0.1.1:5060" in pj
    assert "password = reg-secret" in pj and "line = yes" in pj
    assert "anonymous" not in pj.split("endpoint_identifier_order")[1].splitlines()[0]
    assert "noload = res_pjsip_outbound_registration.so" not in rendered()["modules.conf"]


def test_agent_phone_registers_with_qualify() -> None:
    pj = rendered()["pjsip.conf"]
    aor = pj.split("[7101]\ntype = aor\n")[1]
    assert "qualify_frequency = 15" in aor and "max_contacts = 1" in aor
    assert f"password = {STRONG}" in pj


def test_routes_fail_over_and_present_the_hotline() -> None:
    ext = rendered()["extensions.conf"]
    route = section(ext, "tongdai-route-mobile")
    assert "Set(CALLERID(num)=18001090)" in route
    first = route.index("Gosub(tongdai-trunk-out,s,1(viettel,4,${EXTEN},60))")
    second = route.index("Gosub(tongdai-trunk-out,s,1(vnpt,30,${EXTEN},60))")
    assert first < second
    out = section(ext, "tongdai-trunk-out")
    assert (
        "GROUP_COUNT(${ARG1}@tongdai-trunk)} > ${ARG2}" in out and "Dial(PJSIP/${ARG3}@trunk-${ARG1}" in out
    )
    dialout = section(ext, "tongdai-dialout")
    assert '${REGEX("^0[35789][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]$" ${EXTEN})}' in dialout
    assert "Hangup(21)" in dialout  # no route: refused


def test_phones_and_click_to_call_leave_only_by_the_routes() -> None:
    ext = rendered()["extensions.conf"]
    phones = section(ext, "tongdai-phones")
    assert "Goto(tongdai-dialout,${EXTEN},1)" in phones and "Dial(PJSIP/${EXTEN}" not in phones
    assert "TONGDAI_TRUNK}" not in ext
    assert "Goto(tongdai-dialout,${EXTEN},1)" in section(ext, "tongdai-outbound")


def test_the_outbound_route_leg_is_rated_as_outbound() -> None:
    # billing/cdr.py: the leg dialled in a rendered tongdai-route-* context is the outbound billing leg.
    from datetime import UTC, datetime

    from billing.cdr import call_to_rate
    from billing.models import CdrRecord

    at = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    common = {"system_name": "t", "uniqueid": "1.1", "linkedid": "1.1", "start": at, "answer": at}
    out = CdrRecord(
        **common, src="18001090", dcontext="tongdai-route-mobile", dialled="0868123456",
        disposition="ANSWERED", billsec=3, billsec_exact=3.2,
    )  # fmt: skip
    inbound = CdrRecord(
        **common,
        src="0912345678",
        dcontext="tongdai-ivr",
        dialled="18001090",
        disposition="ANSWERED",
        billsec=3,
    )
    o, i = call_to_rate(out), call_to_rate(inbound)
    assert o is not None and o.direction == "outbound" and o.callee == "0868123456" and o.caller == "18001090"
    assert i is not None and i.direction == "inbound" and i.callee == "18001090"
