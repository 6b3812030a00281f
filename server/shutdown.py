"""How each live job ends when the server stops (SIGINT/SIGTERM): exactly one final message.

A running job is ``cancelled`` with ``reason: "shutting_down"`` (its frames so far stay valid);
a queued one never started, so it ends with ``error`` ``shutting_down`` telling the user to
resubmit once the server is back.
"""
from __future__ import annotations

from server.jobs import JobRecord

SHUTTING_DOWN = {"code": "shutting_down", "message": "the server is shutting down", "field": None,
                 "hint": "start it again, then resubmit"}


def shutdown_final(record: JobRecord) -> tuple[str, dict]:
    """(final message type, body) for a job that is live when the server stops."""
    if record.state == "running":
        return "cancelled", {"frames_sent": record.frames_sent, "reason": "shutting_down"}
    return "error", dict(SHUTTING_DOWN)
