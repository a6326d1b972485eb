"""Schemathesis over the app's own OpenAPI schema: every operation, public and staff, fuzzed with
valid and invalid input, must answer without a server error and as its schema says (status code,
content type, body). The staff API runs with a logged-in admin session (cookie + CSRF header).

Bounded and deterministic for CI: a fixed seed, derandomized Hypothesis, no example database,
at most MAX_EXAMPLES generated cases per operation (plus schemathesis's deterministic
boundary-value and schema-example cases).

Not in the OpenAPI schema, so never generated: the phone line's WebSocket media stream
(/api/v1/voice/stream), Rasa's action webhook (loopback or token only), the demo page, static
files and the server-rendered staff site (HTML forms, tested in tests/api/site). Every
operation in the schema is fuzzed; logout gets a throw-away session of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.deps import SESSION_COOKIE
from api.main import create_app
from knowledge_base.ranking.jobs import RetrainJob
from knowledge_base.ranking.model import RankerInfo
from knowledge_base.ranking.pipeline import TrainingReport
from knowledge_base.service import KnowledgeBase
from nlu.chat import OfflineDialogue
from tests.api.conftest import PASSWORD, staffed_kb
from tests.conftest import make_settings

SEED = 20240601
MAX_EXAMPLES = 20
SCENARIOS, STEPS = 15, 10  # stateful: sequences of up to STEPS calls
LOGOUT = "/api/v1/auth/logout"
# generation health checks only: slow operations and app-side validators that refuse much of
# what the schema allows are expected here
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.filter_too_much]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _schema_only_app() -> FastAPI:
    """The app as built for production, without touching disk: only its OpenAPI document is
    read here (at collection), so that pytest gets one test per operation."""
    settings = make_settings(Path("/nonexistent-schema-only"), database_url="sqlite://")
    return create_app(kb=KnowledgeBase(settings), dialogue=OfflineDialogue())


OPENAPI = _schema_only_app().openapi()
schema = schemathesis.openapi.from_dict(
    OPENAPI,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # the session's CSRF token, set on each case: no variants of it to generate
            "parameters": {"header.x-csrf-token": "set-per-case"},
            "generation": {
                "mode": "all",  # valid and invalid input
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            # sequences of valid calls, so that ids flow from one response to the next request
            "phases": {"stateful": {"generation": {"mode": "positive"}}},
        }
    ),
)


def _instant_refusal(kb: KnowledgeBase) -> TrainingReport:
    """A trainer that answers at once: the real training (LightGBM, minutes) has its own tests;
    here only the HTTP contract of the retrain endpoint is exercised."""
    info = RankerInfo(datetime.now(UTC).isoformat(), 0, 0, {})
    return TrainingReport(False, "Chưa đủ dữ liệu để huấn luyện lại.", info)


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """Temporary SQLite, the sample catalogue, high rate limits, staff accounts. Schemathesis's
    ASGI transport runs its lifespan on the first call."""
    kb = staffed_kb(tmp_path_factory.mktemp("schema-fuzz"))
    app = create_app(kb=kb, dialogue=OfflineDialogue())
    app.state.ranker_job = RetrainJob(kb, _instant_refusal)
    yield app
    shutdown_lifespans()


def log_in(app: FastAPI) -> tuple[dict[str, str], str]:
    """A fresh admin session (the highest role reaches every operation): cookies, CSRF token."""
    client = TestClient(app)  # no lifespan of its own
    response = client.post("/api/v1/auth/login", json={"username": "admin1", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.cookies.get(SESSION_COOKIE)
    assert token
    return {SESSION_COOKIE: token}, response.json()["csrf_token"]


@pytest.fixture(scope="module")
def admin_session(fuzzed_app: FastAPI) -> tuple[dict[str, str], str]:
    return log_in(fuzzed_app)


def test_the_fuzzed_app_has_the_same_schema(fuzzed_app: FastAPI) -> None:
    assert fuzzed_app.openapi() == OPENAPI


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=SUPPRESSED,
)
def test_every_operation_conforms(
    case: Any, fuzzed_app: FastAPI, admin_session: tuple[dict[str, str], str]
) -> None:
    cookies = logged_in(case, fuzzed_app, admin_session)
    case.call_and_validate(app=fuzzed_app, cookies=cookies, checks=CHECKS)


def test_workflows_conform(fuzzed_app: FastAPI, admin_session: tuple[dict[str, str], str]) -> None:
    """Stateful: sequences of calls where the links schemathesis infers from the schema feed
    one response's ids into the next request (create a FAQ entry, then read, edit, submit it;
    list conversations, then open one…), same checks at every step."""

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"app": fuzzed_app, "cookies": logged_in(case, fuzzed_app, admin_session)}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Workflow.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=SUPPRESSED,
        )
    )


def logged_in(case: Any, app: FastAPI, session: tuple[dict[str, str], str]) -> dict[str, str]:
    """Put the session's CSRF token on the case; the session cookie to send with it."""
    cookies, csrf = session
    if case.path == LOGOUT:  # it would end the shared session
        cookies, csrf = log_in(app)
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-csrf-token"}
    case.headers = {**headers, "X-CSRF-Token": csrf}
    return cookies
