"""config.yaml section ``campaigns:``: the outbound dialler of the node. Pure model, no I/O.

The campaigns themselves (queue, purpose, window, retries…) live in the database, created through the
API; this section only says whether this node dials them and how. The dialler reaches customers
through the outbound routes (``trunks.outbound``), like the callback dialler.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CampaignsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dialler: bool = False  # this node dials running campaigns (one node of a cluster only)
    # Caller ID the customer sees; unset = the first hotline number (so they can call the line back).
    caller_id: str | None = Field(None, pattern=r"^[0-9]{3,15}$")
    ring_timeout: int = Field(25, ge=5, le=120)  # seconds the customer's phone rings before no_answer
    poll_seconds: float = Field(5.0, gt=0, le=300)  # also woken by agent state changes
    max_list_rows: int = Field(100_000, ge=1, le=1_000_000)  # rows one CSV import may hold
    # The abandoned-call rate a campaign's report holds its answered calls against, and predictive mode
    # (campaigns/predictive.py) keeps under: answered calls no agent took. 3 % is the usual figure in
    # other markets' rules. connect_seconds: how long an answered customer of a predictive campaign
    # waits for an agent before hearing the message (the rule: 2 s).
    abandon_cap: float = Field(0.03, gt=0, le=0.2)
    connect_seconds: int = Field(1, ge=1, le=2)
