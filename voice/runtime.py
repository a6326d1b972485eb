"""Building the voice worker's shared services from settings: recogniser, voice, pool."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from knowledge_base.service import KnowledgeBase
from knowledge_base.settings import VOSK_VN_MODEL, Settings
from nlu.actions import ActionServer
from nlu.chat import ChatService
from voice.call import VoiceServices
from voice.capacity import CallSlots
from voice.outbound import MessageOutbox, NoOutbox
from voice.prompt_pack import load_prompt_pack
from voice.prompts import prompt_texts
from voice.stt import SpeechModelMissingError, SpeechRecognizer
from voice.tts import SpeechSynthesizer
from voice.tts.engines import EspeakSynthesizer, PiperSynthesizer, SpokenText

logger = logging.getLogger(__name__)
VOSK_MODEL_URL = f"https://alphacephei.com/vosk/models/{VOSK_VN_MODEL}.zip"


def vosk_model_installed(path: Path) -> bool:
    return (path / "am").is_dir() or (path / "final.mdl").is_file()


def build_recognizer(settings: Settings) -> SpeechRecognizer:
    """Vosk where its Vietnamese model is installed (production), viet-asr otherwise."""
    assert settings.vosk_model_path is not None
    backend = settings.stt_backend
    if backend == "auto":
        backend = "vosk" if vosk_model_installed(settings.vosk_model_path) else "viet-asr"
    if backend == "vosk":
        from voice.stt.vosk_engine import VoskRecognizer

        return VoskRecognizer(settings.vosk_model_path)
    from voice.stt.vietasr_engine import VietAsrRecognizer

    return VietAsrRecognizer()


def build_synthesizer(settings: Settings) -> SpeechSynthesizer:
    if settings.tts_piper_model is not None:
        return PiperSynthesizer(settings.tts_piper_model)
    return EspeakSynthesizer(
        settings.tts_voice,
        settings.tts_rate,
        settings.tts_pitch,
        settings.tts_word_gap,
        settings.tts_variant,
    )


def build_speech(settings: Settings, synthesizer: SpeechSynthesizer | None = None) -> SpokenText:
    """The line's voice: a person's recordings where a prompt pack has them, synthesis for the
    rest. Blocking (reads the pack, synthesises the other prompts)."""
    speech = SpokenText(synthesizer or build_synthesizer(settings))
    texts = prompt_texts(settings.province_name)
    if settings.voice_prompts_dir is not None:
        recorded = load_prompt_pack(settings.voice_prompts_dir, texts)
        speech.use_recordings({texts[prompt_id]: audio for prompt_id, audio in recorded.items()})
    speech.warm_up(list(texts.values()))
    return speech


def recognition_pool() -> ThreadPoolExecutor:
    """Sized to the cores: the engines release the GIL while they decode."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="speech")


def build_services(
    kb: KnowledgeBase,
    chat: ChatService,
    actions: ActionServer,
    recognizer: SpeechRecognizer | None = None,
    synthesizer: SpeechSynthesizer | None = None,
    outbox: MessageOutbox | None = None,
) -> VoiceServices:
    """Load the models (blocking: call from a thread or before the loop starts). ``outbox``
    sends long answers by SMS to the caller's number; without one, callers are told it cannot
    be sent now."""
    settings = kb.settings
    recognizer = recognizer or build_recognizer(settings)
    recognizer.warm_up()
    speech = build_speech(settings, synthesizer)
    logger.info("voice.ready", extra={"recognizer": recognizer.name, "voice": speech.engine.name})
    return VoiceServices(
        chat=chat,
        actions=actions,
        engine=kb.engine,
        recognizer=recognizer,
        speech=speech,
        pool=recognition_pool(),
        slots=CallSlots(settings.voice_max_calls),
        province=settings.province_name,
        dossier_letter=settings.dossier_letter,
        silence_s=settings.voice_silence_s,
        max_call_s=settings.voice_max_call_s,
        outbox=outbox or NoOutbox(),
    )


def fetch_vosk_model(target: Path, sha256: str, url: str = VOSK_MODEL_URL) -> Path:
    """Download, verify against ``sha256`` and unpack the Vietnamese Vosk model."""
    if not sha256:
        raise SpeechModelMissingError(
            "set HOTLINE_VOSK_MODEL_SHA256 (or --sha256) to the checksum published with "
            f"{VOSK_VN_MODEL}; an unverified archive is never installed"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        archive = Path(work) / "model.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, archive.open("wb") as out:  # noqa: S310
                shutil.copyfileobj(response, out)
        except OSError as exc:
            raise SpeechModelMissingError(
                f"cannot download {url} ({exc}); on a machine without internet copy the "
                f"unpacked model to {target} instead"
            ) from exc
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != sha256.lower():
            raise SpeechModelMissingError(f"checksum mismatch: got {digest}, expected {sha256}")
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(work)
        unpacked = Path(work) / VOSK_VN_MODEL
        if not vosk_model_installed(unpacked):
            raise SpeechModelMissingError("the archive does not hold a Vosk model")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    return target
