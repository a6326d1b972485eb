"""The staff lexicon page ("Cách nói của người dân"): listing with search, an editor's draft
from a bundled entry, the reviewer's publish, an invalid entry kept in the form with the reason,
and the diff between versions."""

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
from tests.api.site.test_pages import sign_in


@pytest.fixture(autouse=True)
def bundled_lexicon_afterwards() -> Iterator[None]:
    yield
    use_lexicon(bundled_lexicon())


@pytest.fixture
def site(tmp_path: Path) -> Iterator[TestClient]:
    kb: KnowledgeBase = staffed_kb(tmp_path)
    with TestClient(create_app(kb=kb, dialogue=OfflineDialogue())) as client:
        yield client


def test_editor_changes_a_bundled_entry_and_reviewer_publishes(site: TestClient) -> None:
    assert site.get("/staff/lexicon", follow_redirects=False).status_code == 303
    csrf = sign_in(site, "editor1")
    listing = site.get("/staff/lexicon", params={"q": "khai sanh"})
    assert listing.status_code == 200 and "giấy khai sanh" in listing.text
    form = site.get("/staff/lexicon/new", params={"kind": "object", "term": "khai sinh"})
    assert "giấy khai sanh" in form.text and "thay cho mục có sẵn" in form.text
    phrases = "giấy khai sinh\ngiấy khai sanh\ngiấy chào đời"
    data = {"csrf_token": csrf, "kind": "object", "phrases": phrases, "active": "yes"}
    created = site.post("/staff/lexicon/new", data={**data, "term": "khai sinh"})
    assert created.status_code == 200 and "Đã tạo bản nháp." in created.text
    entry_url = created.url.path
    assert "Duyệt và xuất bản" not in created.text  # an editor cannot publish
    saved = site.post(
        entry_url,
        data={
            **data,
            "version": "1",
            "term": "khai sinh",
            "phrases": phrases + "\ngiấy mừng em bé",
        },
    )
    assert "Đã lưu phiên bản mới." in saved.text
    diff = site.get(f"{entry_url}/diff", params={"from": 1, "to": 2})
    assert "+Cách nói: giấy mừng em bé" in diff.text
    site.post(f"{entry_url}/submit", data={"csrf_token": csrf})
    site.post("/staff/logout", data={"csrf_token": csrf})
    csrf = sign_in(site, "reviewer1")
    published = site.post(f"{entry_url}/publish", data={"csrf_token": csrf})
    assert published.status_code == 200 and "Đã cập nhật chỉ mục" in published.text
    assert "khai sinh" in parse_question("xin giấy mừng em bé").objects


def test_an_entry_that_reaches_no_procedure_stays_in_the_form(site: TestClient) -> None:
    csrf = sign_in(site, "editor1")
    refused = site.post(
        "/staff/lexicon/new",
        data={
            "csrf_token": csrf,
            "kind": "object",
            "term": "giấy chào đời",
            "phrases": "giấy chào đời cho bé",
            "active": "yes",
        },
    )
    assert refused.status_code == 422
    assert "không có trong tên thủ tục nào" in refused.text
    assert "giấy chào đời cho bé" in refused.text
