"""Liveness of clients: when to beat, and which clients count as gone.

The server pings every client once per interval; any message from a client counts as a sign of
life. A client silent for ``liveness`` intervals is gone (its jobs are dropped, and remembered in
case it comes back); a closed one is noticed sooner, when a send to it fails.
"""
from __future__ import annotations

import time

import shared_protocol as sp

from server.sessions import Session, Sessions


class Heartbeats:
    def __init__(self, interval: float, liveness: int) -> None:
        self.interval = interval
        self.timeout = interval * liveness
        self.next_beat = time.monotonic() + interval

    def wait_s(self, now: float) -> float:
        """Seconds until the next beat is due."""
        return max(0.0, self.next_beat - now)

    def due(self, now: float) -> bool:
        if now < self.next_beat:
            return False
        self.next_beat = now + self.interval
        return True

    def split(self, sessions: Sessions, now: float) -> tuple[list[Session], list[Session]]:
        """(silent too long: gone, alive: to be pinged)."""
        gone, alive = [], []
        for session in list(sessions.values()):
            (gone if now - session.last_seen > self.timeout else alive).append(session)
        return gone, alive

    @staticmethod
    def ping() -> sp.Message:
        return sp.Message(type="ping", body={"t": time.time()})
