"""One billing CDR as Asterisk's ``Cdr`` event posts it (the hotline leg of a 61.2 s queued call to
1900 1091), for the CDR, backup and durability tests."""

from __future__ import annotations

CDR: dict[str, str] = {
    "UniqueID": "ast1-1795400000.1",
    "LinkedID": "ast1-1795400000.0",
    "Sequence": "1",
    "Source": "0912345678",
    "Destination": "s",
    "DestinationContext": "tongdai-ivr",
    "LastApplication": "Queue",
    "StartTime": "2026-11-23 02:00:00",
    "AnswerTime": "2026-11-23 02:00:00",
    "EndTime": "2026-11-23 02:01:01",
    "Duration": "61",
    "BillableSeconds": "61",
    "BillableSecondsExact": "61.2",
    "Disposition": "ANSWERED",
    "Dialled": "19001091",
}


def cdr(n: int) -> dict[str, str]:
    """The same CDR as call number ``n`` (its own uniqueid and linkedid)."""
    return {**CDR, "UniqueID": f"ast1-1795400000.{n}", "LinkedID": f"ast1-1795400000.{n}"}
