"""``hotline voice``: the AudioSocket voice worker, a TTS check, the Vosk model download, the
list of fixed prompts for a voice talent."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import sys
import wave
from pathlib import Path
from typing import Annotated

import typer

from knowledge_base.settings import get_settings

voice_app = typer.Typer(help="The phone line (AudioSocket worker, speech).", no_args_is_help=True)
prompts_app = typer.Typer(help="The fixed prompts and recorded prompt packs.", no_args_is_help=True)
voice_app.add_typer(prompts_app, name="prompts")


@voice_app.command("serve")
def voice_serve(
    host: Annotated[str | None, typer.Option(help="default HOTLINE_AUDIOSOCKET_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default HOTLINE_AUDIOSOCKET_PORT")] = None,
) -> None:
    """Answer Asterisk's AudioSocket calls with the same dialogue as the web chat."""
    from api.main import _limiter
    from knowledge_base.following import follow_changes
    from knowledge_base.service import KnowledgeBase
    from nlu.actions import ActionServer
    from nlu.chat import ChatService, DialogueEngine, OfflineDialogue, RasaRestClient
    from nlu.notifications.service import SmsOutbox
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
        actions = ActionServer(kb, kb.engine, _limiter(settings))
        chat = ChatService(kb, kb.engine, dialogue, actions=actions)
        outbox = SmsOutbox(kb.engine, settings)
        services = await asyncio.to_thread(build_services, kb, chat, actions, outbox=outbox)
        server = AudioSocketServer(services)
        bound = await server.start(
            host or settings.audiosocket_host, port or settings.audiosocket_port
        )
        if settings.voice_metrics_port:
            from prometheus_client import start_http_server

            # Prometheus scrapes this port and the liveness probe hits it, so it opens only
            # once the call port is listening
            start_http_server(settings.voice_metrics_port, addr=host or settings.audiosocket_host)
        typer.echo(
            f"AudioSocket on {host or settings.audiosocket_host}:{bound} ({services.recognizer.name})"
        )
        stop = asyncio.Event()
        following = asyncio.create_task(follow_changes(kb, stop))  # FAQs published elsewhere
        try:
            await asyncio.Event().wait()
        finally:
            stop.set()
            await following
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


@prompts_app.command("export")
def voice_prompts_export(
    out: Annotated[Path | None, typer.Option(help="CSV file to write; default stdout")] = None,
) -> None:
    """Every fixed prompt's id and text (CSV), for the person recording them: one
    ``<id>.wav`` per row in the folder named by HOTLINE_VOICE_PROMPTS_DIR."""
    from voice.prompts import prompt_texts

    rows = prompt_texts(get_settings().province_name)
    with (
        out.open("w", encoding="utf-8", newline="") if out else contextlib.nullcontext(sys.stdout)
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows(rows.items())
    if out:
        typer.echo(f"{out}: {len(rows)} prompts")


@prompts_app.command("check")
def voice_prompts_check(
    directory: Annotated[
        Path | None, typer.Argument(help="default HOTLINE_VOICE_PROMPTS_DIR")
    ] = None,
) -> None:
    """Which prompts a pack records, which it lacks and which files cannot be used."""
    from voice.prompt_pack import PromptFileError, prompt_files, read_prompt_wav
    from voice.prompts import prompt_texts

    folder = directory or get_settings().voice_prompts_dir
    if folder is None or not folder.is_dir():
        typer.echo("error: no prompt folder (HOTLINE_VOICE_PROMPTS_DIR)", err=True)
        raise typer.Exit(code=1)
    unusable, files = 0, prompt_files(folder)
    for prompt_id in prompt_texts(get_settings().province_name):
        path = files.get(prompt_id)
        if path is None:
            typer.echo(f"{prompt_id}: missing (synthesised)")
            continue
        try:
            seconds = len(read_prompt_wav(path)) / 16000
        except (PromptFileError, OSError) as exc:
            unusable += 1
            typer.echo(f"{prompt_id}: unusable ({exc})")
        else:
            typer.echo(f"{prompt_id}: recorded, {seconds:.1f} s")
    raise typer.Exit(code=1 if unusable else 0)
