"""Voice test helpers: a voice worker on the sample catalogue with a scripted recogniser (the
real engines have their own tests), real espeak-ng, and synthetic 'speech' audio."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from knowledge_base.db import session_scope
from knowledge_base.service import KnowledgeBase
from nlu.actions import ActionServer
from nlu.chat import ChatService, OfflineDialogue
from nlu.dossiers import MemoryAttemptLimiter, load_sample_if_empty
from voice.call import VoiceServices
from voice.runtime import build_services
from voice.stt.scripted import ScriptedRecognizer

RATE = 8000


def tone(seconds: float, level: int = 6000, frequency: float = 220.0) -> bytes:
    """Loud voiced audio the energy detector takes for speech."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = np.sin(2 * np.pi * frequency * t) * level * (0.8 + 0.2 * np.sin(2 * np.pi * 3 * t))
    return wave.astype("<i2").tobytes()


def hush(seconds: float) -> bytes:
    noise = np.random.default_rng(7).normal(0, 20, int(seconds * RATE))
    return noise.astype("<i2").tobytes()


@pytest.fixture(scope="session")
def espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed (scripts/setup_voice.sh)")


def scripted_services(kb: KnowledgeBase, transcripts: list[str]) -> VoiceServices:
    with session_scope(kb.engine) as session:
        load_sample_if_empty(session)  # the invented dossiers of nlu/data/sample_dossiers.csv
    chat = ChatService(kb, kb.engine, OfflineDialogue())
    actions = ActionServer(kb, kb.engine, MemoryAttemptLimiter())
    services = build_services(kb, chat, actions, recognizer=ScriptedRecognizer(transcripts))
    services.silence_s = 2.0
    services.key_timeout_s = 3.0
    return services
