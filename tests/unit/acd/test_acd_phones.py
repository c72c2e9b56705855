"""Desk phones' registration folded from res_pjsip's ContactStatus events and PJSIPShowContacts."""

from __future__ import annotations

from acd.phones import PhoneBook

URI = "sip:7101@127.0.0.1:5070"


def contact(status: str, uri: str = URI, aor: str = "7101", **extra: str) -> dict[str, str]:
    return {"AOR": aor, "EndpointName": aor, "URI": uri, "ContactStatus": status, **extra}


def test_a_phone_registers_is_qualified_stops_answering_and_goes_away() -> None:
    book = PhoneBook(["7101"])
    book.resync({}, now=10)  # no device state listed: the phone starts unregistered
    got = book.get("7101")
    assert got is not None and got.status == "unregistered" and got.contacts == 0
    created = book.contact_status(contact("Created", UserAgent="SIPp\r\nX-Evil: 1"), now=11)
    assert created is not None and created.status == "registered" and created.since == 11
    assert created.user_agent == "SIPp X-Evil: 1"  # a network string shown on one line
    reach = book.contact_status(contact("Reachable", RoundtripUsec="2500"), now=12)
    assert reach is None  # still "registered": no frame for a qualify that changes nothing shown
    got = book.get("7101")
    assert got is not None and got.rtt_ms == 2.5 and got.since == 11
    # A registration refresh ("Updated") does not hide that qualify said the phone is gone.
    down = book.contact_status(contact("Unreachable"), now=20)
    assert down is not None and down.status == "unreachable" and down.since == 20
    assert book.contact_status(contact("Updated"), now=21) is None
    up = book.contact_status(contact("Reachable", RoundtripUsec="900"), now=22)
    assert up is not None and up.status == "registered"
    gone = book.contact_status(contact("Removed"), now=30)
    assert gone is not None and gone.status == "unregistered" and gone.contacts == 0


def test_two_devices_of_one_agent_and_contacts_of_other_aors() -> None:
    book = PhoneBook(["7101"])
    book.contact_status(contact("Reachable"), now=1)
    second = book.contact_status(contact("Unreachable", uri="sip:7101@10.0.0.9:5060"), now=2)
    assert second is not None and second.status == "registered" and second.contacts == 2
    assert book.contact_status(contact("Reachable", aor="carrier-a"), now=3) is None  # a trunk, not a phone
    assert [s.agent_id for s in book.states()] == ["7101"]


def test_resync_from_device_states_reports_every_agent() -> None:
    book = PhoneBook(["7101", "7190", "7102"])
    book.contact_status(contact("Reachable", aor="7190", uri="sip:7190@127.0.0.1:5080"), now=1)
    devices = {"PJSIP/7101": "NOT_INUSE", "PJSIP/7190": "UNAVAILABLE", "PJSIP/carrier-a": "NOT_INUSE"}
    states = {s.agent_id: s for s in book.resync(devices, now=5)}
    assert set(states) == {"7101", "7190", "7102"}  # every agent, changed or not (a late desktop catches up)
    assert states["7101"].status == "registered"  # usable: registered while the AMI link was down
    assert states["7190"].status == "unreachable" and states["7190"].contacts == 1  # known, now silent
    assert states["7102"].status == "unregistered"  # not listed: never registered
    # The stand-in contact of 7101 gives way to the real one's news.
    gone = book.contact_status(contact("Removed"), now=6)
    assert gone is not None and gone.status == "unregistered"
