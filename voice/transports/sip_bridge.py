"""A small SIP ↔ AudioSocket bridge on pjsua2: answers SIP calls and hands each one to an
AudioSocket server, as Asterisk's ``AudioSocket()`` would. For loopback tests and small sites
without Asterisk; the pjsua2 wheel handles at most 4 calls per process.

Its calls are counted twice, on purpose: here against pjsua2's four (a ``CallSlots`` of its
own; over it the caller gets 486 Busy Here), and, as one AudioSocket connection each, against
the cap the voice worker shares between its transports; over that one the caller hears the busy
prompt and the bridge hangs up.

pjsua2 calls back from its own threads; audio crosses to the asyncio side through queues, and
everything pjsua2 must do (hang up) is done on the thread that polls its events.

Lifetimes matter here: a pjsua2 ``Call`` (or its media port) freed after ``libDestroy()``, or
by the garbage collector on a thread pjlib does not know, aborts the process. So pjsua2 objects
live only in ``_calls`` and in the ``_run_sip`` frame, never in a local of the polling loop, and
shutdown hangs every call up (a BYE each), waits for them to end, frees them, then destroys
the library.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import queue
import signal
import threading
import time
import weakref
from collections import deque
from typing import Any

from voice.audio import FRAME_BYTES, PHONE_RATE
from voice.capacity import CallSlot, CallSlots, Offered, offer
from voice.transports.audiosocket_client import AudioSocketCaller

logger = logging.getLogger(__name__)
MAX_CALLS = 4
MAX_BUFFERED_FRAMES = 3000  # a minute of answer audio waiting to be played
FROM_CALLER_FRAMES = 50  # a second of the caller's audio waiting for the AudioSocket leg
FROM_CALLER_CONTROL_ROOM = 16  # keys and the hang-up
SHUTDOWN_GRACE_S = 3.0  # for the calls' BYEs to be answered and their AudioSocket legs closed


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
        self.dropped_frames = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ended = threading.Event()

    def to_server(self, item: bytes | tuple[str, str] | None) -> None:
        """Caller audio, ("dtmf", digit), or None when the caller hung up."""
        if self.loop is not None and self.from_caller is not None:
            self.loop.call_soon_threadsafe(self._offer, item)

    def _offer(self, item: bytes | tuple[str, str] | None) -> None:
        """asyncio thread: queue without waiting, as ``voice.capacity.offer`` drops."""
        assert self.from_caller is not None
        kind: Offered = "end" if item is None else "control" if isinstance(item, tuple) else "audio"
        if not offer(self.from_caller, item, kind, FROM_CALLER_FRAMES):
            self.dropped_frames += 1


class SipAudioSocketBridge:
    def __init__(self, sip_host: str, sip_port: int, audiosocket: tuple[str, int]) -> None:
        self.sip_host, self.sip_port, self.audiosocket = sip_host, sip_port, audiosocket
        self.calls_bridged = 0
        self._hangups: queue.Queue[int] = queue.Queue()  # call ids, done on the pjsua2 thread
        self._calls: dict[int, Any] = {}  # touched only on the pjsua2 thread
        self._slots = CallSlots(MAX_CALLS)
        self._held: dict[int, CallSlot] = {}  # call id → its slot; pjsua2 thread
        self._every_call: weakref.WeakSet[Any] = weakref.WeakSet()  # to prove none outlives pj
        self._legs: set[concurrent.futures.Future[None]] = set()
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
            self.stop()
            raise RuntimeError(f"the SIP bridge did not start: {self._error}")

    def stop(self) -> bool:
        """Hang every call up with a BYE, close their AudioSocket legs, destroy pjsua2.
        Bounded; returns False when something did not finish in time."""
        self._stop.set()
        sip_thread = self._threads[1]
        sip_thread.join(SHUTDOWN_GRACE_S + 5)
        # the legs saw their callers hang up; let them tell the AudioSocket server
        _, unfinished = concurrent.futures.wait(list(self._legs), timeout=SHUTDOWN_GRACE_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._threads[0].join(5)
        clean = not sip_thread.is_alive() and not unfinished and self._error is None
        if not clean:
            logger.error(
                "sip_bridge.unclean_stop",
                extra={"sip_alive": sip_thread.is_alive(), "legs_left": len(unfinished)},
            )
        return clean

    # --- pjsua2 thread -----------------------------------------------------------------------
    def _run_sip(self) -> None:
        pj = _pj()
        endpoint = pj.Endpoint()
        account: Any = None
        try:
            account = self._start_sip(pj, endpoint)
        except Exception as exc:  # reported to start() rather than lost in this thread
            self._error = exc
        self._ready.set()
        try:
            if account is not None:
                self._poll_until_stopped(pj, endpoint)
        finally:
            if account is not None:
                self._end_all_calls(endpoint)
                account.shutdown()
            del account
            gc.collect()
            if alive := len(self._every_call):
                logger.error("sip_bridge.calls_outlive_library", extra={"calls": alive})
            endpoint.libDestroy()

    def _start_sip(self, pj: Any, endpoint: Any) -> Any:
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
        return account

    def _poll_until_stopped(self, pj: Any, endpoint: Any) -> None:
        while not self._stop.is_set():
            endpoint.libHandleEvents(20)
            while not self._hangups.empty():
                self._hang_up(pj, self._hangups.get_nowait())
            self._forget_ended_calls()

    def _hang_up(self, pj: Any, call_id: int) -> None:
        call = self._calls.get(call_id)
        if call is not None and call.isActive():
            call.hangup(pj.CallOpParam())

    def _forget_ended_calls(self) -> None:
        for call_id in [i for i, c in self._calls.items() if c.leg.ended.is_set()]:
            del self._calls[call_id]  # freed here, on this thread, while pjsua2 is alive
            self._held.pop(call_id).release()

    def _end_all_calls(self, endpoint: Any) -> None:
        """A BYE for every call in flight, then wait (bounded) until each has ended."""
        if self._calls:
            logger.info("sip_bridge.hanging_up", extra={"calls": len(self._calls)})
            endpoint.hangupAllCalls()
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        while self._calls and time.monotonic() < deadline:
            endpoint.libHandleEvents(20)
            self._forget_ended_calls()
        for _ in range(5):  # answer retransmissions of the last requests
            endpoint.libHandleEvents(20)
        self._calls.clear()
        for slot in self._held.values():
            slot.release()
        self._held.clear()

    def admit(self, call: Any) -> bool:
        """pjsua2 thread: keep the call unless the process already has its 4 (or is stopping)."""
        self._every_call.add(call)
        if self._stop.is_set():
            return False
        slot = self._slots.try_acquire("sip")
        if slot is None:
            return False
        if (stale := self._held.pop(call.getId(), None)) is not None:
            stale.release()  # pjsua2 reused the id of an ended call not yet forgotten
        self._calls[call.getId()] = call
        self._held[call.getId()] = slot
        return True

    # --- asyncio thread ------------------------------------------------------------------------
    def attach(self, leg: _Leg) -> None:
        """pjsua2 thread, once the call's media is up: start its AudioSocket leg."""
        self.calls_bridged += 1
        leg.loop = self._loop
        future = asyncio.run_coroutine_threadsafe(self._audiosocket_leg(leg), self._loop)
        self._legs.add(future)
        future.add_done_callback(self._legs.discard)

    async def _audiosocket_leg(self, leg: _Leg) -> None:
        leg.from_caller = asyncio.Queue(FROM_CALLER_FRAMES + FROM_CALLER_CONTROL_ROOM)
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
        if leg.dropped_frames:
            logger.warning("sip_bridge.inbound_dropped", extra={"frames": leg.dropped_frames})
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
    SIGTERM or SIGINT, then hangs up the calls in flight (a BYE each) and exits: 0 when the
    shutdown finished cleanly, 1 when it did not."""
    import os
    import sys

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    sip_port, target = int(sys.argv[1]), sys.argv[2]
    host, _, port = target.rpartition(":")
    stop_requested = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_requested.set())
    bridge = SipAudioSocketBridge("127.0.0.1", sip_port, (host, int(port)))
    bridge.start()
    print("sip bridge ready", flush=True)
    while not stop_requested.wait(0.5):
        pass
    clean = bridge.stop()
    sys.stdout.flush()
    # pjsua2 is destroyed; a thread stuck in it must not meet the interpreter's finalisation
    os._exit(0 if clean else 1)


if __name__ == "__main__":
    main()
