"""Per-job stream ordering: the server numbers a job's replies, the client checks them.

A job's reply stream is `accepted` (seq 0), then `progress` / `frame` messages, then exactly
one final message (`done`, `error` or `cancelled`), numbered 0, 1, 2, ... without gaps.
"""

from . import errors
from .errors import ProtocolError
from .messages import FINAL_TYPES, Message


class StreamSequencer:
    """Server side: stamps `job` and the next `seq` on each message of one job's stream and
    refuses anything after the final message (so a job can never end twice)."""

    def __init__(self, job: str):
        self.job = job
        self.next_seq = 0
        self.ended = False

    def stamp(self, msg: Message) -> Message:
        if self.ended:
            raise ProtocolError(errors.INTERNAL, f"job {self.job}: {msg.type!r} after the stream's final message")
        msg.job = self.job
        msg.seq = self.next_seq
        self.next_seq += 1
        self.ended = msg.type in FINAL_TYPES
        return msg


class StreamChecker:
    """Client side: checks each job message arrives in order, once, and before the job's end.

    `check(msg)` returns True when `msg` ends its job's stream. Messages without `seq`
    (replies to requests) pass through unchecked. Raises ProtocolError("bad_message") on a
    gap, a duplicate or a message after the final one, naming how many were lost.
    """

    def __init__(self):
        self._expected: dict[str, int] = {}
        self._ended: set[str] = set()

    def check(self, msg: Message) -> bool:
        if msg.job is None or msg.seq is None:
            return False
        if msg.job in self._ended:
            raise ProtocolError(errors.BAD_MESSAGE, f"job {msg.job}: {msg.type!r} (seq {msg.seq}) arrived after "
                                "the job's final message", "header.seq")
        expected = self._expected.get(msg.job, 0)
        if msg.seq != expected:
            detail = (f"{msg.seq - expected} message(s) lost" if msg.seq > expected
                      else "duplicate or reordered")
            raise ProtocolError(errors.BAD_MESSAGE, f"job {msg.job}: expected seq {expected}, got {msg.seq} "
                                f"({detail})", "header.seq")
        self._expected[msg.job] = expected + 1
        if msg.type in FINAL_TYPES:
            self._ended.add(msg.job)
            del self._expected[msg.job]
            return True
        return False

    def forget(self, job: str) -> None:
        """Drop what is known of `job` (e.g. after the client gave up on it)."""
        self._expected.pop(job, None)
        self._ended.discard(job)
