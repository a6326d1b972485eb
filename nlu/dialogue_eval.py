"""Scripted multi-turn conversations run through ``POST /api/v1/chat``, each turn checked
against what it expects: the kind of reply, the procedure, words in the answer, a handoff.

A conversation file is YAML: a list of conversations, or ``{"conversations": [...]}``::

    - id: passport-fee-before-choosing
      tags: [aspect, buttons]
      turns:
        - say: alo cho hỏi làm hộ chiếu cần giấy tờ gì
          expect: {kind: choose}
        - say: còn lệ phí thì sao
          expect: {kind: choose, contains: [lệ phí]}

``expect`` keys, all optional: ``kind`` (one or a list), ``procedure`` (a code, or a list of
codes any of which will do), ``contains`` (every phrase), ``contains_any`` (one of them),
``not_contains``, ``handoff`` (true/false). Text is compared without accents or case.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from knowledge_base.text.normalize import fold_accents, normalize_text

# Settings for an API that one loopback client drives as every citizen: the per-client limits
# would otherwise count all the scripted conversations as one person's.
ONE_CLIENT_PLAYS_ALL = {
    "HOTLINE_RATE_LIMIT_CHAT": "1000000/minute",
    "HOTLINE_RATE_LIMIT_NEW_CONVERSATIONS": "1000000/minute",
    "HOTLINE_HANDOFF_PER_CLIENT_HOUR": 1000,
    "HOTLINE_FEEDBACK_PER_CLIENT_HOUR": 1000,
    "HOTLINE_DOSSIER_CLIENT_MAX_FAILURES": 1000,
}
EXPECT_KEYS = frozenset(
    ["kind", "procedure", "contains", "contains_any", "not_contains", "handoff"]
)


class ConversationFileError(ValueError):
    """A conversation file that cannot be read as conversations."""


@dataclass(frozen=True)
class ScriptedTurn:
    say: str
    expect: dict[str, Any]


@dataclass(frozen=True)
class ScriptedConversation:
    id: str
    tags: tuple[str, ...]
    turns: tuple[ScriptedTurn, ...]


@dataclass
class ConversationResult:
    id: str
    tags: tuple[str, ...]
    turns: int
    turns_passed: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.turns_passed == self.turns


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _conversation(raw: Any, where: str) -> ScriptedConversation:
    if not isinstance(raw, dict) or not raw.get("id") or not isinstance(raw.get("turns"), list):
        raise ConversationFileError(f"{where}: a conversation needs an id and a list of turns")
    turns = []
    for number, turn in enumerate(raw["turns"], start=1):
        if not isinstance(turn, dict) or not str(turn.get("say") or "").strip():
            raise ConversationFileError(f"{where} {raw['id']} turn {number}: no 'say'")
        expect = turn.get("expect") or {}
        unknown = set(expect) - EXPECT_KEYS if isinstance(expect, dict) else {"?"}
        if unknown:
            raise ConversationFileError(
                f"{where} {raw['id']} turn {number}: unknown expectation {sorted(unknown)}"
            )
        turns.append(ScriptedTurn(str(turn["say"]), dict(expect)))
    return ScriptedConversation(str(raw["id"]), tuple(_as_list(raw.get("tags"))), tuple(turns))


def load_conversations(path: Path) -> list[ScriptedConversation]:
    """A YAML file, or every ``*.yml`` / ``*.yaml`` file of a folder, in name order."""
    files = sorted([*path.glob("*.yml"), *path.glob("*.yaml")]) if path.is_dir() else [path]
    conversations: list[ScriptedConversation] = []
    for file in files:
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConversationFileError(f"{file}: {exc}") from exc
        items = raw.get("conversations") if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise ConversationFileError(f"{file}: expected a list of conversations")
        conversations.extend(_conversation(item, file.name) for item in items)
    ids = Counter(c.id for c in conversations)
    repeated = [i for i, n in ids.items() if n > 1]
    if repeated:
        raise ConversationFileError(f"conversation ids used twice: {repeated}")
    return conversations


def _folded(text: str) -> str:
    return fold_accents(normalize_text(text))


def unmet(expect: dict[str, Any], reply: dict[str, Any]) -> list[str]:
    """What of ``expect`` the chat API's reply does not meet."""
    problems = []
    text = _folded(" ".join(str(m.get("text", "")) for m in reply.get("messages", [])))
    kinds = _as_list(expect.get("kind"))
    if kinds and reply.get("kind") not in kinds:
        problems.append(f"kind {reply.get('kind')} not {'/'.join(kinds)}")
    codes = _as_list(expect.get("procedure"))
    if codes and reply.get("procedure_code") not in codes:
        problems.append(f"procedure {reply.get('procedure_code')} not {'/'.join(codes)}")
    missing = [p for p in _as_list(expect.get("contains")) if _folded(p) not in text]
    if missing:
        problems.append(f"missing {missing}")
    anyof = _as_list(expect.get("contains_any"))
    if anyof and not any(_folded(p) in text for p in anyof):
        problems.append(f"none of {anyof}")
    present = [p for p in _as_list(expect.get("not_contains")) if _folded(p) in text]
    if present:
        problems.append(f"should not say {present}")
    if "handoff" in expect and bool(reply.get("handoff")) != bool(expect["handoff"]):
        problems.append(f"handoff {reply.get('handoff')}")
    return problems


async def run_conversation(
    client: httpx.AsyncClient, conversation: ScriptedConversation
) -> ConversationResult:
    result = ConversationResult(conversation.id, conversation.tags, len(conversation.turns), 0)
    session_id = uuid.uuid4().hex  # a fresh conversation each run
    for number, turn in enumerate(conversation.turns, start=1):
        response = await client.post(
            "/api/v1/chat", json={"session_id": session_id, "message": turn.say}
        )
        if response.status_code != 200:
            result.failures.append(f"turn {number} «{turn.say}»: HTTP {response.status_code}")
            continue
        problems = unmet(turn.expect, response.json())
        if problems:
            result.failures.append(f"turn {number} «{turn.say}»: {'; '.join(problems)}")
        else:
            result.turns_passed += 1
    return result


async def run_conversations(
    base_url: str, conversations: list[ScriptedConversation], concurrency: int = 4
) -> list[ConversationResult]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def one(conversation: ScriptedConversation) -> ConversationResult:
            async with limit:
                return await run_conversation(client, conversation)

        return list(await asyncio.gather(*(one(c) for c in conversations)))


def summary(results: list[ConversationResult], degraded: bool | None = None) -> dict[str, Any]:
    turns = sum(r.turns for r in results)
    by_tag: dict[str, list[ConversationResult]] = {}
    for result in results:
        for tag in result.tags:
            by_tag.setdefault(tag, []).append(result)
    return {
        "conversations": len(results),
        "conversations_passed": sum(r.passed for r in results),
        "conversation_pass_rate": round(sum(r.passed for r in results) / len(results), 4)
        if results
        else 0.0,
        "turns": turns,
        "turn_pass_rate": round(sum(r.turns_passed for r in results) / turns, 4) if turns else 0.0,
        "degraded": degraded,
        "by_tag": {
            tag: round(sum(r.passed for r in group) / len(group), 4)
            for tag, group in sorted(by_tag.items())
        },
        "failures": {r.id: r.failures for r in results if not r.passed},
    }
