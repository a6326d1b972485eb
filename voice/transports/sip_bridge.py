"""A small SIP ↔ AudioSocket bridge on pjsua2: answers SIP calls and hands each one to an
AudioSocket server, as Asterisk's ``AudioSocket()`` would. For loopback tests and small sites
without Asterisk; the pjsua2 wheel handles at most 4 calls per process.

pjsua2 calls back from its own threads; audio crosses to the asyncio side through queues, and
everything pjsua2 must do (hang up) is done on the thread that polls its events.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import queue
import threading
from collections import deque
from typing import Any

from voice.audio import FRAME_BYTES, PHONE_RATE
from voice.transports.audiosocket_client import AudioSocketCaller

logger = logging.getLogger(__name__)
MAX_CALLS = 4
MAX_BUFFERED_FRAMES = 3000  # a minute of answer audio waiting to be played


def _pj() -> Any:
    try:
        import pjsua2
    except ImportError as exc:
        raise RuntimeError("the SIP bridge needs `pip install pjsua2-python`") from exc
    return pjsua2


class _Leg:
    """One call's audio both ways, shared between pjsua2's media thread and asyncio."""

    def __init__(self, call_id: int) -> None:
        self.call_id = call_id
        self.to_caller: deque[bytes] = deque(maxlen=MAX_BUFFERED_FRAMES)
        self.from_caller: asyncio.Queue[bytes | tuple[str, str] | None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ended = threading.Event()

    def to_server(self, item: bytes | tuple[str, str] | None) -> None:
        """Caller audio, ("dtmf", digit), or None when the caller hung up."""
        if self.loop is not None and self.from_caller is not None:
            self.loop.call_soon_threadsafe(self.from_caller.put_nowait, item)


class SipAudioSocketBridge:
    def __init__(self, sip_host: str, sip_port: int, audiosocket: tuple[str, int]) -> None:
        self.sip_host, self.sip_port, self.audiosocket = sip_host, sip_port, audiosocket
        self.calls_bridged = 0
        self._hangups: queue.Queue[int] = queue.Queue()  # call ids, done on the pjsua2 thread
        self._calls: dict[int, Any] = {}  # touched only on the pjsua2 thread
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._threads: list[threading.Thread] = []
        self._error: BaseException | None = None

    def start(self) -> None:
        asyncio_thread = threading.Thread(target=self._loop.run_forever, name="bridge-asyncio")
        sip_thread = threading.Thread(target=self._run_sip, name="bridge-sip")
        self._threads = [asyncio_thread, sip_thread]
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the SIP bridge did not start: {self._error}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads[1:]:
            thread.join(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._threads[0].join(5)

    # --- pjsua2 thread -----------------------------------------------------------------------
    def _run_sip(self) -> None:
        pj = _pj()
        endpoint = pj.Endpoint()
        try:
            endpoint.libCreate()
            config = pj.EpConfig()
            config.uaConfig.threadCnt = 0  # events are polled here; no hidden worker threads
            config.uaConfig.mainThreadOnly = False
            config.logConfig.level = 1
            config.logConfig.consoleLevel = 1
            config.medConfig.clockRate = PHONE_RATE
            config.medConfig.sndClockRate = PHONE_RATE
            config.medConfig.channelCount = 1
            config.medConfig.noVad = True
            endpoint.libInit(config)
            transport = pj.TransportConfig()
            transport.boundAddress = self.sip_host
            transport.port = self.sip_port
            endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
            endpoint.audDevManager().setNullDev()
            endpoint.libStart()
            account = _account_class(pj, self)()
            account_config = pj.AccountConfig()
            account_config.idUri = f"sip:hotline@{self.sip_host}:{self.sip_port}"
            account.create(account_config)
        except Exception as exc:  # reported to start() rather than lost in this thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                endpoint.libHandleEvents(20)
                while not self._hangups.empty():
                    call = self._calls.get(self._hangups.get_nowait())
                    if call is not None and call.isActive():
                        call.hangup(pj.CallOpParam())
                for call_id in [i for i, c in self._calls.items() if c.leg.ended.is_set()]:
                    del self._calls[call_id]  # freed here, while pjsua2 is alive
        finally:
            endpoint.hangupAllCalls()
            for _ in range(25):
                endpoint.libHandleEvents(20)
            self._calls.clear()
            del account
            gc.collect()
            endpoint.libDestroy()

    def admit(self, call: Any) -> bool:
        """pjsua2 thread: keep the call unless the process already has its 4."""
        if len(self._calls) >= MAX_CALLS:
            return False
        self._calls[call.getId()] = call
        return True

    # --- asyncio thread ------------------------------------------------------------------------
    def attach(self, leg: _Leg) -> None:
        """pjsua2 thread, once the call's media is up: start its AudioSocket leg."""
        self.calls_bridged += 1
        leg.loop = self._loop
        asyncio.run_coroutine_threadsafe(self._audiosocket_leg(leg), self._loop)

    async def _audiosocket_leg(self, leg: _Leg) -> None:
        leg.from_caller = asyncio.Queue()
        line = AudioSocketCaller(on_audio=leg.to_caller.append)
        try:
            await line.connect(*self.audiosocket)
        except OSError as exc:
            logger.warning("sip_bridge.no_audiosocket", extra={"error": str(exc)})
            self._hangups.put(leg.call_id)
            return
        upstream = asyncio.create_task(self._upstream(leg, line))
        await line.hung_up.wait()  # the server hung up, or the caller did (upstream closed)
        upstream.cancel()
        await asyncio.gather(upstream, return_exceptions=True)
        await line.close()
        if not leg.ended.is_set():  # let the last words play before the line drops
            await asyncio.sleep(min(len(leg.to_caller) * 0.02 + 0.2, 60.0))
        self._hangups.put(leg.call_id)

    async def _upstream(self, leg: _Leg, line: AudioSocketCaller) -> None:
        assert leg.from_caller is not None
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                item = await leg.from_caller.get()
                if item is None:
                    await line.hang_up()
                    return
                if isinstance(item, tuple):
                    await line.press(item[1])
                else:
                    await line.send_frame(item)


def _account_class(pj: Any, bridge: SipAudioSocketBridge) -> type:
    class Port(pj.AudioMediaPort):  # type: ignore[misc]
        def __init__(self, leg: _Leg) -> None:
            super().__init__()
            self.leg = leg

        def onFrameRequested(self, frame: Any) -> None:  # pjsua2's callback names
            pcm = self.leg.to_caller.popleft() if self.leg.to_caller else b"\x00" * FRAME_BYTES
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(pcm)
            frame.size = len(pcm)

        def onFrameReceived(self, frame: Any) -> None:
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                self.leg.to_server(bytes(frame.buf))

    class Call(pj.Call):  # type: ignore[misc]
        def __init__(self, account: Any, call_id: int) -> None:
            super().__init__(account, call_id)
            self.leg = _Leg(call_id)
            self.port: Any = None

        def onCallState(self, prm: Any) -> None:
            if self.getInfo().state == pj.PJSIP_INV_STATE_DISCONNECTED:
                self.leg.ended.set()
                self.leg.to_server(None)

        def onCallMediaState(self, prm: Any) -> None:
            if self.port is not None:
                return
            media = self.getAudioMedia(-1)
            audio_format = pj.MediaFormatAudio()
            audio_format.type = pj.PJMEDIA_TYPE_AUDIO
            audio_format.clockRate = PHONE_RATE
            audio_format.channelCount = 1
            audio_format.bitsPerSample = 16
            audio_format.frameTimeUsec = 20_000
            self.port = Port(self.leg)
            self.port.createPort(f"bridge-{self.getId()}", audio_format)
            media.startTransmit(self.port)
            self.port.startTransmit(media)
            bridge.attach(self.leg)

        def onDtmfDigit(self, prm: Any) -> None:
            self.leg.to_server(("dtmf", str(prm.digit)))

    class Account(pj.Account):  # type: ignore[misc]
        def onIncomingCall(self, prm: Any) -> None:
            call = Call(self, prm.callId)
            answer = pj.CallOpParam()
            answer.statusCode = 200 if bridge.admit(call) else 486  # busy here
            call.answer(answer)

    return Account


def main() -> None:
    """``python -m voice.transports.sip_bridge SIP_PORT AUDIOSOCKET_HOST:PORT``: runs until
    stdin closes (a test or a supervisor controls its life)."""
    import sys

    sip_port, target = int(sys.argv[1]), sys.argv[2]
    host, _, port = target.rpartition(":")
    bridge = SipAudioSocketBridge("127.0.0.1", sip_port, (host, int(port)))
    bridge.start()
    print("sip bridge ready", flush=True)
    sys.stdin.read()
    bridge.stop()


if __name__ == "__main__":
    main()
