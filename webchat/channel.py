"""The channel interface: what any messaging channel gives the chat ACD and the desktop, and takes.

Web chat is the first implementation; a Zalo OA or SMS adapter implements the same four things and
nothing in the ACD or the desktop changes:
- **inbound**: a customer's message arrives as :class:`Inbound` (channel, the channel's own
  conversation key, text, when);
- **outbound**: the agent's reply goes out through :meth:`Channel.send`, under the id the chat gave
  it (the channel maps it to its own if it has one); :meth:`Channel.notify` carries the chat's other
  events (position while waiting, an agent joined, typing, the callback offer, ended) to a channel
  that can show them, and is a no-op for one that cannot (SMS);
- **identity**: :class:`Identity` says who the customer is as far as the channel knows — a verified
  customer ID (a signed token from the operator's portal, a Zalo follower linked to a customer) or only
  a phone number they typed (unverified: the profile is offered to the agent as a match, not as fact);
- **delivery state**: the channel reports :class:`Delivery` updates (sent → delivered → read, or
  failed), which the desktop shows beside each message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

DeliveryState = Literal["sent", "delivered", "read", "failed"]
_ORDER: dict[DeliveryState, int] = {"sent": 0, "delivered": 1, "read": 2, "failed": 3}


@dataclass(frozen=True)
class Identity:
    customer_id: str | None  # verified by the channel, or None
    phone: str | None  # E.164 as typed or given by the channel; unverified unless customer_id is set
    verified: bool

    def __post_init__(self) -> None:
        if self.verified and not self.customer_id:
            raise ValueError("a verified identity names its customer")


@dataclass(frozen=True)
class Inbound:
    channel: str  # "web", "zalo", "sms"
    conversation: str  # the channel's own key for this conversation
    text: str
    at: datetime
    identity: Identity
    page: str = ""  # where the customer was (web: the page URL) when they wrote


@dataclass(frozen=True)
class Delivery:
    channel: str
    message_id: str
    state: DeliveryState
    at: datetime


def advances(current: DeliveryState | None, new: DeliveryState) -> bool:
    """Delivery updates may arrive out of order: only a later state replaces an earlier one."""
    return current is None or _ORDER[new] > _ORDER[current]


class Channel(Protocol):
    """A messaging channel's adapter."""

    @property
    def name(self) -> str: ...

    async def send(self, conversation: str, message_id: str, text: str, at: datetime) -> None:
        """Deliver an agent's message; its delivery state is reported later (ChatService.delivered)."""
        ...

    async def notify(self, conversation: str, event: str, data: dict[str, Any]) -> None:
        """The chat's other events for the customer: ``position`` {position}, ``agent`` {agent},
        ``typing``, ``delivery`` {id, state} of the customer's own messages, ``callback_offer``,
        ``ended`` {disposition}. A channel that cannot show an event ignores it."""
        ...
