"""schemathesis against the desktop's generated OpenAPI, every check, on a real bridge (aiohttp on
127.0.0.1, real SQLite with the demo customers, a supervisor's session): no route answers outside
its document, accepts what its schema refuses, refuses what it accepts, or fails with a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
import schemathesis.engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from tests.support.live_bridge import LiveBridge

TOKEN = "schemathesis-token-0123456789abcdef"
MAX_EXAMPLES = 10  # per operation and phase: bounded for CI

# Without Asterisk, calls that need it answer 503 "service unavailable" (documented on each of them).
NO_ASTERISK = ["2xx", "3xx", "4xx", "503"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveBridge, requests.Session, str]]:
    with LiveBridge(tmp_path_factory.mktemp("schemathesis"), token=TOKEN) as bridge:
        http, csrf = bridge.login("9000", "demo-9000")
        yield bridge, http, csrf


def _config(base_url: str, cookie: str, csrf: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261202,
            "base-url": base_url,
            "headers": {"X-CSRF-Token": csrf},
            "auth": {"openapi": {"session": {"api_key": cookie}}},
            "generation": {"max-examples": MAX_EXAMPLES},
            "checks": {"not_a_server_error": {"expected-statuses": NO_ASTERISK}},
            "operations": [
                {
                    # "until after since, at most reports.max_days days" binds two fields: JSON Schema
                    # cannot say it, so a well-formed period may still be refused with a 400.
                    "include-path-regex": "^/api/reports/(chat-)?service-level$",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "5xx"]
                        }
                    },
                },
                {
                    # An outage notice's area must be one the customers' addresses hold, and its period
                    # must end after it starts and after now: a well-formed notice may get a 400.
                    "include-path": "/api/outages",
                    "include-method": "POST",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "5xx"]
                        }
                    },
                },
                {
                    # A campaign's rules bind fields (an advertising window inside 08:00-17:00, the end
                    # after the start, a known queue and a new name); a list must be valid CSV rows.
                    "include-path-regex": "^/api/campaigns",
                    "include-method": "POST",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "5xx"]
                        }
                    },
                },
            ],
        }
    )


def run_schemathesis(bridge: LiveBridge, config: SchemathesisConfig) -> tuple[list[str], set[str], int]:
    """Every phase (examples, coverage, fuzzing, stateful) over every operation: the problems found,
    the operations exercised and the number of checks run."""
    api = schemathesis.openapi.from_url(f"{bridge.base}/api/openapi.json", config=config)
    problems: list[str] = []
    tested: set[str] = set()
    checked = 0
    for event in schemathesis.engine.from_schema(api).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for node in event.recorder.cases.values():
                tested.add(f"{node.value.method} {node.value.path}")
            for case_id, checks in event.recorder.checks.items():
                checked += len(checks)
                for check in checks:
                    if check.failure_info is not None:
                        case = event.recorder.cases[case_id].value
                        failure = check.failure_info.failure
                        problems.append(
                            f"{check.name}: {failure.title} {case.method} {case.formatted_path} "
                            f"query={case.query} body={case.body!r:.200}\n"
                            f"{failure.message}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"error: {event}")
    return problems, tested, checked


@pytest.mark.timeout(600)
def test_the_api_keeps_its_openapi_document(live: tuple[LiveBridge, requests.Session, str]) -> None:
    bridge, http, csrf = live
    spec = http.get(f"{bridge.base}/api/openapi.json", timeout=10).json()
    # Every route but the document's own (schemathesis reads it rather than tests it).
    operations = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops} - {
        "GET /api/openapi.json"
    }
    config = _config(bridge.base, http.cookies["tongdai_session"], csrf)
    problems, tested, checked = run_schemathesis(bridge, config)
    assert not problems, "\n\n".join(problems[:20])
    assert tested >= operations, operations - tested  # every route was exercised
    assert checked > 20 * len(operations)
