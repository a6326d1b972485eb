"""Rasa's action endpoint: the custom actions run in this process, beside the knowledge base."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import ActionsDep, SettingsDep
from api.errors import ApiError, ForbiddenError
from knowledge_base.log_context import accepted_id, request_id

router = APIRouter(prefix="/api/v1/rasa", tags=["rasa"], include_in_schema=False)
LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}


@router.post("/webhook")
async def webhook(
    request: Request,
    body: Annotated[dict[str, Any], Body()],
    actions: ActionsDep,
    settings: SettingsDep,
    token: Annotated[str, Query()] = "",
) -> dict[str, Any]:
    expected = settings.rasa_action_token
    if expected:
        if not secrets.compare_digest(token.encode(), expected.encode()):
            raise ForbiddenError("wrong action token")
    elif (request.client.host if request.client else "") not in LOOPBACK:
        raise ForbiddenError("the action endpoint only answers loopback without a token")
    latest = (body.get("tracker") or {}).get("latest_message") or {}
    request_id.set(accepted_id(str((latest.get("metadata") or {}).get("request_id") or "")))
    try:
        result: dict[str, Any] = await run_in_threadpool(actions.run, body)
    except KeyError as exc:
        raise ApiError(f"unknown action {exc.args[0]!r}") from exc
    return result
