"""Connected clients (ROUTER identities) and the jobs of clients that went away.

A client dropped for silence, for leaving too many replies unread, or because its connection
dropped may come back (a frozen Blender wakes up; a DEALER with a stable routing id reconnects):
its dropped jobs are remembered, bounded, so it can be told how each ended.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Clients whose dropped jobs are remembered, in case they come back.
MAX_ORPHAN_CLIENTS = 256


@dataclass
class Session:
    """One connected client (a ROUTER identity)."""

    identity: bytes
    last_seen: float
    name: str = ""
    backlog: deque = field(default_factory=deque)   # frame lists waiting for the client's HWM to clear
    backlog_bytes: int = 0


class Sessions(dict):
    """identity -> Session, plus ``orphans``: identity -> (cancel reason, dropped job records)."""

    def __init__(self) -> None:
        super().__init__()
        self.orphans: dict[bytes, tuple[str, list]] = {}

    def seen(self, identity: bytes, now: float) -> tuple[Session, bool]:
        """The session of ``identity`` (created on first sight) and whether it was just created."""
        session = self.get(identity)
        created = session is None
        if created:
            session = self[identity] = Session(identity, now)
        session.last_seen = now
        return session, created

    def silent(self, now: float, timeout: float) -> list[Session]:
        return [s for s in self.values() if now - s.last_seen > timeout]

    def remember(self, identity: bytes, reason: str, records: list) -> None:
        self.orphans[identity] = (reason, records)
        while len(self.orphans) > MAX_ORPHAN_CLIENTS:
            self.orphans.pop(next(iter(self.orphans)))

    def take_orphans(self, identity: bytes) -> tuple[str, list]:
        return self.orphans.pop(identity, ("", []))
