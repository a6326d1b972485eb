"""The citizens' lexicon through the staff API: roles, checks, versions and the workflow; a
published entry changes how questions are read and what is found, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from knowledge_base.service import KnowledgeBase
from knowledge_base.understanding.frame import parse_question
from knowledge_base.understanding.lexicon import bundled_lexicon, use_lexicon
from nlu.chat import OfflineDialogue
from tests.api.conftest import staffed_kb
from tests.api.test_admin_faq import login

NEW_WORDING = "xin giấy chào đời cho bé nhà tôi"
ENTRY = {"kind": "object", "term": "khai sinh", "phrases": ["giấy chào đời", "giay chao doi"]}


@pytest.fixture(autouse=True)
def bundled_lexicon_afterwards() -> Iterator[None]:
    """The lexicon in use is process-wide: leave the bundled one to the next test."""
    yield
    use_lexicon(bundled_lexicon())


@pytest.fixture
def kb(database_url: str, tmp_path: Path) -> KnowledgeBase:
    return staffed_kb(tmp_path, database_url=database_url)


@pytest.fixture
def app(kb: KnowledgeBase) -> Iterator[TestClient]:
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        yield client


def test_roles_editor_drafts_reviewer_publishes(app: TestClient) -> None:
    assert app.get("/api/v1/admin/lexicon").status_code == 401
    editor = login(app, "editor1")
    created = app.post("/api/v1/admin/lexicon", json=ENTRY, headers=editor)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert (entry["status"], entry["version"], entry["published_version"]) == ("draft", 1, None)
    assert (
        app.post(f"/api/v1/admin/lexicon/{entry['id']}/publish", headers=editor).status_code == 403
    )
    submitted = app.post(f"/api/v1/admin/lexicon/{entry['id']}/submit", headers=editor)
    assert submitted.json()["status"] == "in_review"
    reviewer = login(app, "reviewer1")
    published = app.post(f"/api/v1/admin/lexicon/{entry['id']}/publish", headers=reviewer)
    assert published.status_code == 200, published.text
    assert published.json()["published_version"] == 1
    assert published.json()["index"].startswith("Đã cập nhật chỉ mục")


def test_a_published_entry_changes_how_questions_are_read_and_found(
    app: TestClient, kb: KnowledgeBase
) -> None:
    assert "khai sinh" not in parse_question(NEW_WORDING).objects
    before = [p.name for p in kb.ask(NEW_WORDING).procedures[:1]]
    editor = login(app, "editor1")
    entry = app.post("/api/v1/admin/lexicon", json=ENTRY, headers=editor).json()
    app.post(f"/api/v1/admin/lexicon/{entry['id']}/submit", headers=editor)
    # a draft changes nothing
    assert "khai sinh" not in parse_question(NEW_WORDING).objects
    reviewer = login(app, "reviewer1")
    app.post(f"/api/v1/admin/lexicon/{entry['id']}/publish", headers=reviewer)
    assert "khai sinh" in parse_question(NEW_WORDING).objects
    assert "khai sinh" in parse_question("giay chao doi").objects  # accent-free alike
    found = kb.ask(NEW_WORDING).procedures
    assert found and found[0].name == "Đăng ký khai sinh", (before, found)
    # archiving the entry brings back the bundled reading
    app.post(f"/api/v1/admin/lexicon/{entry['id']}/archive", headers=reviewer)
    assert "khai sinh" not in parse_question(NEW_WORDING).objects
    assert "khai sinh" in parse_question("làm giấy khai sinh").objects


def test_retiring_a_bundled_entry_and_listing(app: TestClient) -> None:
    editor = login(app, "editor1")
    retired = {"kind": "phrase", "term": "xác nhận tình trạng hôn nhân", "phrases": []}
    retired["active"] = False
    assert "xác nhận tình trạng hôn nhân" in parse_question("xin giấy độc thân").official
    entry = app.post("/api/v1/admin/lexicon", json=retired, headers=editor).json()
    app.post(f"/api/v1/admin/lexicon/{entry['id']}/submit", headers=editor)
    reviewer = login(app, "reviewer1")
    app.post(f"/api/v1/admin/lexicon/{entry['id']}/publish", headers=reviewer)
    assert "xác nhận tình trạng hôn nhân" not in parse_question("xin giấy độc thân").official
    lines = app.get("/api/v1/admin/lexicon", params={"q": "tinh trang hon nhan"}).json()
    mine = [line for line in lines if line["entry"] and line["entry"]["id"] == entry["id"]]
    assert mine and mine[0]["bundled"] and not mine[0]["entry"]["active"]
    # the bundled line is not listed a second time beside the staff change
    assert sum(1 for line in lines if line["term"] == "xác nhận tình trạng hôn nhân") == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({**ENTRY, "term": "giấy chào đời"}, "không có trong tên thủ tục"),
        ({**ENTRY, "kind": "qualifier", "term": "em bé"}, "Nhãn phân loại"),
        ({**ENTRY, "phrases": ["a"]}, "quá ngắn"),
        ({**ENTRY, "term": "giấy chào đời", "active": False}, "Chỉ bỏ được một mục có sẵn"),
    ],
)
def test_entries_that_would_not_work_are_refused_with_the_reason(
    app: TestClient, body: dict[str, object], fragment: str
) -> None:
    editor = login(app, "editor1")
    refused = app.post("/api/v1/admin/lexicon", json=body, headers=editor)
    assert refused.status_code == 422, refused.text
    assert fragment in refused.json()["error"]["message"]


def test_versions_conflicts_duplicates_rollback_and_audit(app: TestClient) -> None:
    editor, reviewer = login(app, "editor1"), None
    entry = app.post("/api/v1/admin/lexicon", json=ENTRY, headers=editor).json()
    twin = app.post("/api/v1/admin/lexicon", json=ENTRY, headers=editor)
    assert twin.status_code == 422 and f"#{entry['id']}" in twin.json()["error"]["message"]
    edited = {**ENTRY, "phrases": [*ENTRY["phrases"], "giấy mừng em bé"], "version": 1}
    saved = app.put(f"/api/v1/admin/lexicon/{entry['id']}", json=edited, headers=editor)
    assert saved.json()["version"] == 2
    stale = app.put(f"/api/v1/admin/lexicon/{entry['id']}", json=edited, headers=editor)
    assert stale.status_code == 409
    diff = app.get(f"/api/v1/admin/lexicon/{entry['id']}/diff", params={"from": 1, "to": 2})
    assert "+Cách nói: giấy mừng em bé" in diff.json()
    reviewer = login(app, "reviewer1")
    rolled = app.post(
        f"/api/v1/admin/lexicon/{entry['id']}/rollback", json={"version": 1}, headers=reviewer
    ).json()
    assert (rolled["version"], rolled["published_version"], rolled["status"]) == (3, 3, "published")
    assert rolled["phrases"] == ENTRY["phrases"]
    versions = app.get(f"/api/v1/admin/lexicon/{entry['id']}/versions").json()
    assert [v["author"] for v in versions] == ["editor1", "editor1", "reviewer1"]
    audit = app.get("/api/v1/admin/audit").json()
    actions = [a["action"] for a in audit if a["target"] == f"lexicon:{entry['id']}"]
    assert actions == ["rollback", "edit", "create"]
