import pytest
from fastapi.testclient import TestClient

from api.main import create_app


@pytest.fixture(scope="module")
def client(sample_kb):
    with TestClient(create_app(kb=sample_kb)) as test_client:
        yield test_client


def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["documents"] >= 40


def test_ask_contract(client):
    response = client.post("/api/v1/ask", json={"question": "làm hộ chiếu mất bao lâu", "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"answerable", "aspect", "answer", "procedures", "faq", "refusal_kind"}
    assert body["refusal_kind"] is None
    assert body["answerable"] and body["aspect"] == "time"
    assert len(body["procedures"]) <= 3
    assert set(body["procedures"][0]) == {"code", "name", "score", "level", "agency", "url"}


@pytest.mark.parametrize(
    "payload",
    [
        {"question": ""},
        {"question": "   "},
        {"question": "x" * 2001},
        {"question": "???"},
        {"question": "abc\u0000def"},
        {"question": "hộ chiếu", "top_k": 0},
        {},
    ],
)
def test_ask_rejects_bad_input_with_clear_message(client, payload):
    response = client.post("/api/v1/ask", json=payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"]


def test_ask_rejects_non_json(client):
    response = client.post(
        "/api/v1/ask", content=b"\xff\xfe", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_procedure_detail_and_404(client):
    body = client.get("/api/v1/procedures/1.001193").json()
    assert (
        body["name"] == "Đăng ký khai sinh" and body["channels"][0]["channel_label"] == "Trực tiếp"
    )
    missing = client.get("/api/v1/procedures/0.000000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_procedure_search_filters_and_pages(client):
    page = client.get("/api/v1/procedures", params={"q": "căn cước", "page_size": 2}).json()
    assert page["total"] >= 3 and len(page["items"]) == 2
    assert page["items"][0]["code"].startswith("1.01406")
    level = client.get("/api/v1/procedures", params={"level": "Cấp xã", "page_size": 100}).json()
    assert level["total"] > 10 and all("Cấp xã" in i["levels"] for i in level["items"])


def test_openapi_is_served(client):
    assert "/api/v1/ask" in client.get("/openapi.json").json()["paths"]
