"""HTTP edge of the data subject's rights (crm_bridge/data_rights.py): the archive export and the
erasure (supervisors, a person, with a stated reason), consent changes with their source (agents
take them on the phone) and the consent log."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from core.http import Access, Args, Call, Route, SupervisorsOnly
from core.http import add_routes as register
from crm_bridge.data_rights import DataRights

_CUSTOMER_ID = r"^[A-Za-z_-]*[0-9][A-Za-z0-9_-]*$"


class CustomerRef(Args):
    customer_id: str = Field(pattern=_CUSTOMER_ID, max_length=32)


class Request(CustomerRef):
    reason: str = Field("", max_length=500, description="why (the customer's request, its reference)")


class ConsentArgs(CustomerRef):
    marketing: bool | None = None
    recording: bool | None = None
    data_sharing: bool | None = None
    source: Literal["phone", "form", "portal", "email", "import"] = Field(
        description="where the customer gave or withdrew it"
    )
    note: str = Field("", max_length=200)


class DataRightsRoutes:
    def __init__(self, rights: DataRights) -> None:
        self.rights = rights

    async def export(self, c: Call[Request]) -> Any:
        if not c.who.supervisor:
            raise SupervisorsOnly("supervisors only")
        archive, _ = await self.rights.export(c.args.customer_id, actor=c.who.agent_id, reason=c.args.reason)
        name = f"{c.args.customer_id}-data.zip"
        return web.Response(
            body=archive,
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    async def erase(self, c: Call[Request]) -> Any:
        if not c.who.supervisor:
            raise SupervisorsOnly("supervisors only")
        done = await self.rights.erase(c.args.customer_id, actor=c.who.agent_id, reason=c.args.reason)
        return {"customer_id": c.args.customer_id, "erased": True, **done}

    async def consent(self, c: Call[ConsentArgs]) -> Any:
        a = c.args
        changes = {
            k: v
            for k, v in (
                ("marketing", a.marketing),
                ("recording", a.recording),
                ("data_sharing", a.data_sharing),
            )
            if v is not None
        }
        logged = await self.rights.change_consent(
            a.customer_id, changes, source=a.source, actor=c.who.agent_id, note=a.note
        )
        return {"customer_id": a.customer_id, "changes": logged}

    async def consent_log(self, c: Call[CustomerRef]) -> Any:
        return await self.rights.consent_log(c.args.customer_id)


_CHANGES = {
    "type": "object",
    "required": ["customer_id", "changes"],
    "properties": {
        "customer_id": {"type": "string"},
        "changes": {"type": "array", "items": {"type": "object"}},
    },
}


def add_routes(app: web.Application, rights: DataRights) -> None:
    h = DataRightsRoutes(rights)
    register(
        app,
        [
            Route(
                "POST",
                "/api/customers/{customer_id}/export",
                "Everything held about a customer as one ZIP of JSON files (Decree 13/2023; supervisors,"
                " with the reason; recorded and audited)",
                h.export,
                Request,
                access=Access.PEOPLE,
                media="application/zip",
                errors=(400, 403, 404, 503),
                tag="data-rights",
            ),
            Route(
                "POST",
                "/api/customers/{customer_id}/erase",
                "Erase a customer's personal data on request, keeping billing rows and what the law"
                " requires (supervisors, with the reason; recorded and audited)",
                h.erase,
                Request,
                access=Access.PEOPLE,
                result={"type": "object", "required": ["customer_id", "erased"]},
                name="customer.erase",
                errors=(400, 403, 404, 503),
                tag="data-rights",
            ),
            Route(
                "POST",
                "/api/customers/{customer_id}/consent",
                "Record a consent given or withdrawn, with its source (each change logged and audited)",
                h.consent,
                ConsentArgs,
                access=Access.PEOPLE,
                result=_CHANGES,
                name="customer.consent",
                errors=(400, 404, 503),
                tag="data-rights",
            ),
            Route(
                "GET",
                "/api/customers/{customer_id}/consent-log",
                "Every consent change of a customer, with its source (supervisors)",
                h.consent_log,
                CustomerRef,
                access=Access.SUPERVISOR,
                result={"type": "array", "items": {"type": "object"}},
                name="customer.consent_log",
                errors=(503,),
                tag="data-rights",
            ),
        ],
    )
