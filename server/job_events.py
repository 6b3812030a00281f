"""What runs a job tells the front, wherever it runs (a device thread here or a Ray replica).

Plain frozen dataclasses: the I/O thread receives them through ``Service.post`` and turns them
into protocol messages; nothing here touches the socket.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from server.backends.base import JobContext, Progress


@dataclass(frozen=True)
class ProgressPosted:
    job_id: str
    progress: Progress


@dataclass(frozen=True)
class FramePosted:
    job_id: str
    index: int
    total: int
    width: int
    height: int
    png: bytes


@dataclass(frozen=True)
class FinalPosted:
    """The job ended: ``kind`` is done | error | cancelled; the front sends it after the frames.
    ``frames_submitted`` < 0: encoding failed, send at once (no more frames will come)."""

    job_id: str
    kind: str
    body: dict
    frames_submitted: int


@dataclass(frozen=True)
class SlotFree:
    """A place where jobs run (a device thread, a replica slot) can take the next job."""

    slot: Any


@dataclass
class RunningJob:
    """What a place that runs jobs needs for one job."""

    job_id: str
    job: Any                      # shared_protocol.Job
    ctx: JobContext
    accepted_at: float = field(default_factory=time.monotonic)


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` with numpy scalars, tuples and odd objects turned into msgpack-able plain types.

    Backends report ``Done.info`` with whatever they computed (np.int64 counts, Path objects);
    one such value must not make the job's final message unsendable.
    """
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if depth > 8:
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    item = getattr(value, "item", None)       # numpy / torch scalars
    if callable(item):
        try:
            return plain(item(), depth + 1)
        except (TypeError, ValueError):
            pass
    return str(value)
