"""Stable endpoints for lab instances: a TCP proxy per instance *name*, as RDS's DNS names are.

When names move at switchover, the original name's endpoint (same port) reaches the new server.
The proxy can also refuse, stall or cut connections for a while, which is how the lab fences clients
during a switchover and how tests inject outages of known length. Every change of mode is kept with the
moment it really took effect (on the proxy's own loop), so a probe's figures can be compared with what the
endpoint actually did: `outages()` turns that history into (start, end, mode) spans.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

OPEN, REFUSE, STALL = "open", "refuse", "stall"
HISTORY = 500  # mode changes kept per endpoint


@dataclass
class _Listener:
    name: str
    port: int
    target: int | None
    server: asyncio.base_events.Server
    mode: str = OPEN
    reopened: asyncio.Event = field(default_factory=asyncio.Event)
    conns: set[asyncio.StreamWriter] = field(default_factory=set)
    accepted: int = 0
    reset_handle: asyncio.TimerHandle | None = None
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))

    def changed(self, mode: str, by: str, cut: bool = False, seconds: float | None = None) -> dict[str, Any]:
        """Record a mode change at the moment it takes effect (called on the proxy's loop)."""
        entry = {"at": time.time(), "mode": mode, "by": by, "cut": cut,
                 "cut_connections": len(self.conns) // 2 if cut else 0, "seconds": seconds}
        self.history.append(entry)
        return entry


class EndpointRouter:
    """Owns one event loop thread and every listener; all methods are safe to call from any thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._listeners: dict[str, _Listener] = {}
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-endpoints", daemon=True)
        self._thread.start()

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    # -- routing -----------------------------------------------------------------------------------
    def add(self, name: str, target: int | None, port: int = 0, host: str | None = None) -> int:
        """Open an endpoint for `name` (on `port`, or a free one; on `host`, default the router's) forwarding to
        server port `target`."""
        return int(self._run(self._add(name, target, port, host or self.host)))

    async def _add(self, name: str, target: int | None, port: int, host: str) -> int:
        if name in self._listeners:
            self._listeners[name].target = target
            return self._listeners[name].port
        holder: dict[str, _Listener] = {}

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(holder["l"], reader, writer)

        server = await asyncio.start_server(handle, host, port)
        bound = server.sockets[0].getsockname()[1]
        holder["l"] = listener = _Listener(name, bound, target, server)
        listener.reopened.set()
        self._listeners[name] = listener
        return int(bound)

    def route(self, name: str, target: int | None) -> None:
        self._run(self._route(name, target))

    async def _route(self, name: str, target: int | None) -> None:
        self._listeners[name].target = target

    def rename(self, old: str, new: str) -> None:
        """The endpoint of `old` now answers for `new` (same port)."""
        self._run(self._rename(old, new))

    async def _rename(self, old: str, new: str) -> None:
        listener = self._listeners.pop(old)
        listener.name = new
        self._listeners[new] = listener

    def remove(self, name: str) -> None:
        self._run(self._remove(name))

    async def _remove(self, name: str) -> None:
        listener = self._listeners.pop(name, None)
        if listener:
            listener.server.close()
            await self._cut(listener)
            listener.reopened.set()
            await listener.server.wait_closed()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {n: {"port": l.port, "target": l.target, "mode": l.mode, "connections": len(l.conns),
                    "accepted": l.accepted, "history": list(l.history)} for n, l in list(self._listeners.items())}

    # -- faults and fencing --------------------------------------------------------------------------
    def set_mode(self, names: list[str], mode: str, seconds: float | None = None,
                 cut: bool = False) -> dict[str, dict[str, Any]]:
        """Refuse or stall new connections (optionally cutting existing ones), for `seconds` or until
        set back to open. Returns, per name, the change as recorded (its real start)."""
        return dict(self._run(self._set_mode(names, mode, seconds, cut)))

    async def _set_mode(self, names: list[str], mode: str, seconds: float | None,
                        cut: bool) -> dict[str, dict[str, Any]]:
        if mode not in (OPEN, REFUSE, STALL):
            raise ValueError(f"unknown endpoint mode {mode!r}; known: {OPEN}, {REFUSE}, {STALL}")
        applied: dict[str, dict[str, Any]] = {}
        for name in names:
            listener = self._listeners.get(name)
            if listener is None:
                continue
            if listener.reset_handle:
                listener.reset_handle.cancel()
                listener.reset_handle = None
            listener.mode = mode
            if mode == OPEN:
                listener.reopened.set()
            else:
                listener.reopened.clear()
            entry = listener.changed(mode, "call", cut, seconds)
            if cut:
                await self._cut(listener)
            if seconds is not None and mode != OPEN:
                listener.reset_handle = self._loop.call_later(seconds, self._reopen, listener)
            applied[name] = {**entry, "port": listener.port}
        return applied

    def _reopen(self, listener: _Listener) -> None:
        listener.mode = OPEN
        listener.reset_handle = None
        listener.reopened.set()
        listener.changed(OPEN, "timer")

    def cut(self, names: list[str]) -> None:
        self._run(self._cut_names(names))

    async def _cut_names(self, names: list[str]) -> None:
        for name in names:
            if name in self._listeners:
                await self._cut(self._listeners[name])

    @staticmethod
    async def _cut(listener: _Listener) -> None:
        for writer in list(listener.conns):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        listener.conns.clear()

    # -- the proxy itself ----------------------------------------------------------------------------
    async def _serve(self, listener: _Listener, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        listener.accepted += 1
        if listener.mode == STALL:
            await listener.reopened.wait()
        if listener.mode == REFUSE or listener.target is None:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, listener.target)
        except OSError:
            writer.transport.abort()
            return
        listener.conns.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            listener.conns.discard(writer)
            listener.conns.discard(up_writer)

    def close(self) -> None:
        async def _all() -> None:
            for name in list(self._listeners):
                await self._remove(name)
        with contextlib.suppress(Exception):
            self._run(_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def outages(history: Iterable[dict[str, Any]], since: float | None = None) -> list[dict[str, Any]]:
    """What an endpoint really did, as spans: each stretch it was not open, with its mode(s), start and end
    (end None while it lasts) and whether existing connections were cut; only spans ending after `since`."""
    spans: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for entry in sorted(history, key=lambda e: float(e["at"])):
        if entry["mode"] == OPEN:
            if current is not None:
                current["end"] = float(entry["at"])
                spans.append(current)
                current = None
            continue
        if current is None:
            current = {"start": float(entry["at"]), "end": None, "modes": [entry["mode"]], "cut": bool(entry["cut"])}
        else:
            if entry["mode"] not in current["modes"]:
                current["modes"].append(entry["mode"])
            current["cut"] = current["cut"] or bool(entry["cut"])
    if current is not None:
        spans.append(current)
    for span in spans:
        span["seconds"] = None if span["end"] is None else span["end"] - span["start"]
    return [s for s in spans if since is None or s["end"] is None or s["end"] >= since]
