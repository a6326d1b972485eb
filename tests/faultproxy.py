"""A TCP proxy on 127.0.0.1 in front of a real server (PostgreSQL, Redis) that a test can cut
or stall, to see what the hotline does when a backing service fails mid-run."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from enum import Enum


class Mode(Enum):
    PASS = "pass"  # forward both ways
    DOWN = "down"  # open connections dropped, new ones closed at once (a stopped server)
    STALL = "stall"  # connections accepted, nothing forwarded either way (a blackholed host)


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.mode = Mode.PASS
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode is Mode.DOWN:
            self._drop_all()

    def close(self) -> None:
        self._stopped.set()
        self._drop_all()
        for thread in self._threads:
            thread.join(timeout=2)
        self._listener.close()

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode is Mode.DOWN:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._upstream, timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            pump = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            self._threads.append(pump)
            pump.start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._stopped.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if self.mode is Mode.PASS:
                        peers[sock].sendall(data)
                    # STALL: swallowed, so the other side waits until its own timeout
        except (OSError, ValueError):  # dropped by set_mode(DOWN) or close()
            return
        finally:
            for sock in peers:
                sock.close()
