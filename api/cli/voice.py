"""``hotline voice``: the AudioSocket voice worker, a TTS check, the Vosk model download."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Annotated

import typer

from knowledge_base.settings import get_settings

voice_app = typer.Typer(help="The phone line (AudioSocket worker, speech).", no_args_is_help=True)


@voice_app.command("serve")
def voice_serve(
    host: Annotated[str | None, typer.Option(help="default HOTLINE_AUDIOSOCKET_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default HOTLINE_AUDIOSOCKET_PORT")] = None,
) -> None:
    """Answer Asterisk's AudioSocket calls with the same dialogue as the web chat."""
    from api.main import _limiter
    from knowledge_base.service import KnowledgeBase
    from nlu.actions import ActionServer
    from nlu.chat import ChatService, DialogueEngine, OfflineDialogue, RasaRestClient
    from voice.runtime import build_services
    from voice.transports.audiosocket_server import AudioSocketServer

    settings = get_settings()
    kb = KnowledgeBase(settings)
    kb.warm_up()

    async def run() -> None:
        dialogue: DialogueEngine = (
            RasaRestClient(settings.rasa_url, settings.rasa_timeout_s)
            if settings.rasa_url
            else OfflineDialogue()
        )
        chat = ChatService(kb, kb.engine, dialogue)
        actions = ActionServer(kb, kb.engine, _limiter(settings))
        services = await asyncio.to_thread(build_services, kb, chat, actions)
        server = AudioSocketServer(services, settings.voice_max_calls)
        bound = await server.start(
            host or settings.audiosocket_host, port or settings.audiosocket_port
        )
        typer.echo(
            f"AudioSocket on {host or settings.audiosocket_host}:{bound} ({services.recognizer.name})"
        )
        try:
            await asyncio.Event().wait()
        finally:
            await server.close()

    asyncio.run(run())


@voice_app.command("say")
def voice_say(
    text: str,
    out: Annotated[Path, typer.Option(help="8 kHz WAV file to write")] = Path("say.wav"),
) -> None:
    """Speak a text as the line would (normalised, 8 kHz) into a WAV file."""
    from voice.runtime import build_synthesizer
    from voice.tts.engines import SpokenText

    speech = SpokenText(build_synthesizer(get_settings()))
    pcm = speech.say(text)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm)
    typer.echo(f"{out}: {len(pcm) / 16000:.1f} s")


@voice_app.command("fetch-vosk-model")
def voice_fetch_vosk_model(
    sha256: Annotated[str, typer.Option(help="default HOTLINE_VOSK_MODEL_SHA256")] = "",
) -> None:
    """Download vosk-model-small-vn-0.4 (needs a network), verify its checksum, unpack it."""
    from voice.runtime import fetch_vosk_model
    from voice.stt import SpeechModelMissingError

    settings = get_settings()
    assert settings.vosk_model_path is not None
    try:
        path = fetch_vosk_model(settings.vosk_model_path, sha256 or settings.vosk_model_sha256)
    except SpeechModelMissingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"installed {path}")
