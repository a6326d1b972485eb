"""Admins manage accounts: disable (the user is signed out at once) and re-enable, reset a
password (shown once; old sessions end), end every session; never on their own account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from nlu.chat import OfflineDialogue
from tests.api.conftest import PASSWORD, staffed_kb
from tests.api.site.test_pages import sign_in


@pytest.fixture
def kb(tmp_path: Path):
    return staffed_kb(tmp_path)


@pytest.fixture
def two(kb) -> Iterator[tuple[TestClient, TestClient]]:
    app = create_app(kb=kb, dialogue=OfflineDialogue())
    with TestClient(app) as admin, TestClient(app) as editor:
        yield admin, editor


def test_disable_reset_and_sign_out(two: tuple[TestClient, TestClient]) -> None:
    admin, editor = two
    csrf = sign_in(admin, "admin1")
    sign_in(editor, "editor1")
    assert editor.get("/staff/faq").status_code == 200
    disabled = admin.post("/staff/users/editor1/disable", data={"csrf_token": csrf})
    assert "Đã khóa tài khoản editor1" in disabled.text and "Mở lại tài khoản" in disabled.text
    assert editor.get("/staff/faq", follow_redirects=False).status_code == 303  # signed out
    again = editor.post("/api/v1/auth/login", json={"username": "editor1", "password": PASSWORD})
    assert again.status_code == 401
    admin.post("/staff/users/editor1/enable", data={"csrf_token": csrf})
    sign_in(editor, "editor1")
    reset = admin.post("/staff/users/editor1/reset", data={"csrf_token": csrf})
    new_password = re.search(r'<code id="new-password">([^<]+)</code>', reset.text).group(1)
    assert editor.get("/staff/faq", follow_redirects=False).status_code == 303
    old = editor.post("/api/v1/auth/login", json={"username": "editor1", "password": PASSWORD})
    assert old.status_code == 401
    new = {"username": "editor1", "password": new_password}
    assert editor.post("/api/v1/auth/login", json=new).status_code == 200
    ended = admin.post("/staff/users/editor1/signout", data={"csrf_token": csrf})
    assert "khỏi 1 phiên" in ended.text
    assert editor.get("/api/v1/auth/me").status_code == 401
    own = admin.post("/staff/users/admin1/disable", data={"csrf_token": csrf})
    assert own.status_code == 422 and "chính tài khoản" in own.text
    audit = admin.get("/api/v1/admin/audit").json()
    assert {"user.disable", "user.enable", "user.reset", "user.signout"} <= {
        a["action"] for a in audit
    }


def test_only_admins_manage_accounts(two: tuple[TestClient, TestClient]) -> None:
    _, editor = two
    csrf = sign_in(editor, "editor1")
    assert (
        editor.post("/staff/users/reviewer1/disable", data={"csrf_token": csrf}).status_code == 403
    )
