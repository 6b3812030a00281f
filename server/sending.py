"""Sending on the ROUTER socket without blocking and without losing order.

libzmq queues up to ``SEND_HWM`` messages per client; past that, messages wait in the client's
own backlog (in order, bounded by ``MAX_BACKLOG_BYTES``) and go out as it drains. A client that
leaves more than that unread is treated like a vanished one (``on_gone``).
"""
from __future__ import annotations

import logging
from typing import Callable

import zmq

from server.sessions import Session, Sessions

log = logging.getLogger("trackgo.server")

# A frame message is ~1-2 MB, so libzmq's default of 1000 could pin gigabytes for a stalled client.
SEND_HWM = 64
# A client that lets more than this wait unread is dropped like a vanished one (its jobs cancelled).
MAX_BACKLOG_BYTES = 512 * 1024 * 1024


class Sender:
    def __init__(self, sessions: Sessions, on_gone: Callable[[bytes, str, bool], None]) -> None:
        self.sessions = sessions
        self.on_gone = on_gone            # (identity, reason, silent)
        self.socket: zmq.Socket | None = None

    def send(self, identity: bytes, encoded: list) -> None:
        frames = [identity] + encoded
        session = self.sessions.get(identity)
        if session is not None and session.backlog:
            self.queue_backlog(session, frames)   # keep order behind what is already waiting
            return
        try:
            self.socket.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            # The client's high-water mark is reached: keep the message, in order, in our backlog.
            if session is not None:
                self.queue_backlog(session, frames)
            else:
                log.debug("dropping a reply to %s: its queue is full", identity.hex())
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                self.on_gone(identity, "disconnected", False)
            else:
                log.warning("send to %s failed: %s", identity.hex(), exc)

    def queue_backlog(self, session: Session, frames: list) -> None:
        session.backlog.append(frames)
        session.backlog_bytes += sum(len(f) for f in frames)
        if session.backlog_bytes > MAX_BACKLOG_BYTES:
            # Still connected (a frozen Blender, say): like a silent one, told if it speaks again.
            self.on_gone(session.identity, f"not reading: {session.backlog_bytes >> 20} MiB waiting", True)

    def has_backlog(self) -> bool:
        return any(s.backlog for s in self.sessions.values())

    def flush(self) -> None:
        for session in list(self.sessions.values()):
            while session.backlog:
                frames = session.backlog[0]
                try:
                    self.socket.send_multipart(frames, zmq.NOBLOCK)
                except zmq.Again:
                    break
                except zmq.ZMQError as exc:
                    if exc.errno == zmq.EHOSTUNREACH:
                        self.on_gone(session.identity, "disconnected", False)
                    break
                session.backlog.popleft()
                session.backlog_bytes -= sum(len(f) for f in frames)
