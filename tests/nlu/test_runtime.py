"""The Rasa runtime glue: model cache key and the endpoints written from the settings."""

import os
import subprocess
from pathlib import Path

import pytest

from nlu.runtime import (
    RASA_PROJECT,
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


def test_endpoints_for_postgres_redis_and_token(tmp_path: Path):
    settings = make_settings(
        tmp_path,
        database_url="postgresql://hotline:pw@db.internal:5433/hotline",
        redis_url="redis://127.0.0.1:6379/2",
        rasa_action_token="action-token-123",
    )
    text = endpoints_yaml(settings, "http://api:8000")
    assert "dialect: postgresql" in text and 'url: "db.internal"' in text and "port: 5433" in text
    assert 'db: "hotline"' in text and 'username: "hotline"' in text
    assert "type: redis" in text and "port: 6379" in text and "db: 2" in text
    assert 'token: "action-token-123"' in text


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


def test_lock_store_fails_fast_when_redis_is_unreachable(tmp_path: Path):
    settings = make_settings(tmp_path, redis_url="redis://127.0.0.1:6379/0")
    assert "socket_timeout: 2" in endpoints_yaml(settings, "http://api:8000")


def test_actions_get_no_domain_and_serving_runs_single_threaded(tmp_path: Path):
    settings = make_settings(tmp_path)
    assert "enable_selective_domain: true" in endpoints_yaml(settings, "http://api:8000")
    assert rasa_environment(settings, serving=True)["TF_NUM_INTRAOP_THREADS"] == "1"
    training = rasa_environment(settings)
    assert training.get("TF_NUM_INTRAOP_THREADS") == os.environ.get("TF_NUM_INTRAOP_THREADS")


def test_rasa_speedups_validate_action_results_as_rasa_does():
    """Runs in the Rasa venv: the cached validator is installed when the project's components
    load, accepts an action's answer and refuses a malformed one as Rasa's own check does."""
    try:
        python = rasa_executable().with_name("python")
    except RasaNotInstalledError:
        pytest.skip("the Rasa venv is not installed")
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
    )
    subprocess.run(
        [str(python), "-c", script],
        cwd=RASA_PROJECT,
        env={**rasa_environment(make_settings(Path("/nonexistent"))), "PYTHONPATH": "."},
        check=True,
        timeout=120,
    )
