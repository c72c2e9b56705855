"""The complete schema: importing this module registers every package's tables on ``Base``."""

from __future__ import annotations

import acd.models
import billing.models
import core.models
import crm_bridge.models
import ivr.models
import recordings.models
from core.db import Base

metadata = Base.metadata
MODEL_MODULES = (core.models, billing.models, crm_bridge.models, recordings.models, ivr.models, acd.models)
