"""The Rasa runtime glue: model cache key and the endpoints written from the settings."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from nlu.runtime import (
    RASA_PROJECT,
    REDIS_TRACKER_STORE,
    RasaNotInstalledError,
    api_token,
    endpoints_yaml,
    model_path,
    project_hash,
    rasa_environment,
    rasa_executable,
    serve_command,
)
from tests.conftest import make_settings


def test_endpoints_for_sqlite_without_redis(tmp_path: Path):
    settings = make_settings(tmp_path)
    text = endpoints_yaml(settings, "http://127.0.0.1:8000/")
    assert 'url: "http://127.0.0.1:8000/api/v1/rasa/webhook"' in text
    assert "dialect: sqlite" in text and str((tmp_path / "hotline.db").resolve()) in text
    assert "lock_store" not in text and "token" not in text


def test_endpoints_for_postgres_and_token(tmp_path: Path):
    settings = make_settings(
        tmp_path,
        database_url="postgresql://hotline:pw@db.internal:5433/hotline",
        rasa_action_token="action-token-123",
    )
    text = endpoints_yaml(settings, "http://api:8000")
    assert "dialect: postgresql" in text and 'url: "db.internal"' in text and "port: 5433" in text
    assert 'db: "hotline"' in text and 'username: "hotline"' in text
    assert 'token: "action-token-123"' in text


def test_with_redis_the_tracker_and_locks_live_there_and_expire(tmp_path: Path):
    settings = make_settings(
        tmp_path,
        database_url="postgresql://hotline:pw@db.internal:5433/hotline",
        redis_url="redis://:secret@127.0.0.1:6379/2",
        chat_session_idle_minutes=20,
    )
    endpoints = yaml.safe_load(endpoints_yaml(settings, "http://api:8000"))
    tracker, locks = endpoints["tracker_store"], endpoints["lock_store"]
    assert tracker["type"] == REDIS_TRACKER_STORE and locks["type"] == "redis"
    assert tracker["db"] == locks["db"] == 2 and tracker["password"] == "secret"
    assert tracker["record_exp"] == 20 * 60  # gone with the web chat: nothing to erase later
    # Redis unreachable: the turn fails fast and the chat answers degraded
    assert locks["socket_timeout"] == tracker["socket_timeout"] == 2


def test_model_is_cached_by_project_hash(tmp_path: Path):
    settings = make_settings(tmp_path, rasa_dir=tmp_path / "rasa")
    assert model_path(settings) == tmp_path / "rasa" / "models" / f"hotline-{project_hash()}.tar.gz"
    assert project_hash() == project_hash()


def test_rasa_api_is_token_protected_and_endpoints_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("nlu.runtime.rasa_executable", lambda: Path("rasa"))
    settings = make_settings(tmp_path, rasa_dir=tmp_path / "rasa", rasa_action_token="secret-x")
    endpoints = tmp_path / "rasa" / "endpoints.yml"
    endpoints.parent.mkdir(parents=True)
    endpoints.write_text("old", encoding="utf-8")
    endpoints.chmod(0o644)
    command = serve_command(settings, 5005, "http://127.0.0.1:8000")
    token = next(a for a in command if a.startswith("--auth-token=")).partition("=")[2]
    assert len(token) >= 24 and token == api_token(settings)
    assert endpoints.stat().st_mode & 0o777 == 0o600
    assert "secret-x" in endpoints.read_text(encoding="utf-8")
    configured = make_settings(tmp_path, rasa_api_token="configured-token")
    assert api_token(configured) == "configured-token"
    # a token beginning with "-" stays one argument (argparse would refuse it after a space)
    dashed = make_settings(tmp_path, rasa_dir=tmp_path / "rasa", rasa_api_token="-dash-token")
    assert "--auth-token=-dash-token" in serve_command(dashed, 5005, "http://127.0.0.1:8000")


def test_actions_get_no_domain_and_serving_runs_single_threaded(tmp_path: Path):
    settings = make_settings(tmp_path)
    assert "enable_selective_domain: true" in endpoints_yaml(settings, "http://api:8000")
    assert rasa_environment(settings, serving=True)["TF_NUM_INTRAOP_THREADS"] == "1"
    training = rasa_environment(settings)
    assert training.get("TF_NUM_INTRAOP_THREADS") == os.environ.get("TF_NUM_INTRAOP_THREADS")


def test_rasa_speedups_validate_action_results_as_rasa_does():
    """Runs in the Rasa venv: the cached validator is installed when the project's components
    load, accepts an action's answer and refuses a malformed one as Rasa's own check does, and
    events find their classes as Rasa's own walk finds them."""
    script = (
        "import components\n"
        "from jsonschema import ValidationError\n"
        "from rasa.core.actions.action import RemoteAction\n"
        "from components.rasa_speedups import validate_action_result\n"
        "assert RemoteAction._validate_action_result is validate_action_result\n"
        "action = RemoteAction('action_answer', None)\n"
        "good = {'events': [{'event': 'slot', 'name': 'x', 'value': 1, 'timestamp': None}],"
        " 'responses': [{'text': 'hi'}]}\n"
        "assert action._validate_action_result(good)\n"
        "for bad in ({'events': [{'name': 'x'}]}, {'responses': 'text'}):\n"
        "    try:\n"
        "        action._validate_action_result(bad)\n"
        "    except ValidationError:\n"
        "        continue\n"
        "    raise SystemExit('accepted ' + repr(bad))\n"
        "from rasa.shared.core.events import Event, SlotSet, UserUttered\n"
        "assert Event.resolve_by_type('user') is UserUttered\n"
        "assert Event.resolve_by_type('slot') is SlotSet\n"
        "assert Event.resolve_by_type('topic') is None\n"
    )
    run_in_rasa_venv(script)


def run_in_rasa_venv(script: str) -> None:
    try:
        python = rasa_executable().with_name("python")
    except RasaNotInstalledError:
        pytest.skip("the Rasa venv is not installed")
    subprocess.run(
        [str(python), "-c", script],
        cwd=RASA_PROJECT,
        env={**rasa_environment(make_settings(Path("/nonexistent"))), "PYTHONPATH": "."},
        check=True,
        timeout=120,
    )


def test_redis_tracker_store_keeps_a_conversation_as_rasa_would():
    """Loaded by Rasa's own factory from the endpoints we write (a wrong module path would fall
    back to an in-memory store), it gives back every event it was given, expires the key, and
    uses Rasa's merging where a key could hold two sessions."""
    script = f"""
import asyncio, secrets, components
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

domain = Domain.load("domain.yml")
prefix = "test" + secrets.token_hex(4)
def store(record_exp):
    config = EndpointConfig.from_dict({{
        "type": "{REDIS_TRACKER_STORE}", "url": "127.0.0.1", "port": 6379, "db": 0,
        "key_prefix": prefix, "record_exp": record_exp, "socket_timeout": 2}})
    created = TrackerStore.create(config, domain)
    created = getattr(created, "_tracker_store", created)
    assert type(created).__name__ == "OneSessionRedisTrackerStore", type(created)
    return created

async def main():
    quick, long_lived = store(1800), store(7200)
    assert quick.one_session_per_key() and not long_lived.one_session_per_key()
    for tracker_store in (quick, long_lived):
        sender = secrets.token_hex(8)
        tracker = DialogueStateTracker.from_events(sender, [
            ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
            UserUttered("làm hộ chiếu cần gì", {{"name": "ask_procedure", "confidence": 0.9}}),
            SlotSet("procedure_code", "1.001"), ActionExecuted("action_answer")], domain.slots)
        await tracker_store.save(tracker)
        tracker.update(UserUttered("còn lệ phí", {{"name": "ask_fee", "confidence": 0.8}}))
        await tracker_store.save(tracker)
        back = await tracker_store.retrieve(sender)
        assert list(back.events) == list(tracker.events), back.events
        assert back.get_slot("procedure_code") == "1.001"
        assert 0 < tracker_store.red.ttl(tracker_store.key_prefix + sender) <= tracker_store.record_exp
        tracker_store.red.delete(tracker_store.key_prefix + sender)
    assert await quick.retrieve("nobody-" + prefix) is None

asyncio.run(main())
"""
    run_in_rasa_venv(script)
