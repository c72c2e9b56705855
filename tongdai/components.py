"""The feature packages of a node, in their declared order (the order they start; they stop in
reverse). A component may use only those before it: crm before the IVR and the desktop (the
directory, the pop's profile), acd before the IVR and the desktop (policy, agent states), billing and
recordings before the desktop's routes are served."""

from __future__ import annotations

from acd.component import SPEC as ACD
from agent_desktop.component import SPEC as DESKTOP
from asterisk_conf.component import SPEC as ASTERISK_CONF
from billing.component import SPEC as BILLING
from campaigns.component import SPEC as CAMPAIGNS
from core.component import ComponentSpec
from crm_bridge.component import SPEC as CRM
from ivr.component import SPEC as IVR
from quality.component import SPEC as QUALITY
from recordings.component import SPEC as RECORDINGS
from reports.component import SPEC as REPORTS
from trunks.component import SPEC as TRUNKS
from webchat.component import SPEC as WEBCHAT

COMPONENTS: tuple[ComponentSpec, ...] = (
    TRUNKS, CRM, BILLING, RECORDINGS, ACD, DESKTOP, IVR, CAMPAIGNS, WEBCHAT, REPORTS, QUALITY, ASTERISK_CONF,
)  # fmt: skip
