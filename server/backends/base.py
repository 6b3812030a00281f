"""The one small interface every backend implements, and the events it yields.

A backend turns one validated ``shared_protocol.Job`` into frames. The server owns everything
else: queueing, the socket, PNG encoding, cancellation bookkeeping and the single final message
of each job. So a backend only has to:

* ``load(report)`` once (at start-up, or lazily before its first job), calling ``report(text)``
  with human-readable progress ("loading UNet", ...);
* ``run(job, ctx)`` as a generator yielding ``Progress`` / ``Frame`` events and finally one
  ``Done`` (optional: returning normally counts as done), checking ``ctx.cancelled()`` at least
  once per denoising step and simply returning when it is true;
* raise on failure (``BackendError`` for a message meant for the user; any other exception,
  including ``torch.cuda.OutOfMemoryError``, is turned into a job ``error`` by the server).

Frames must be yielded with ``index`` 0, 1, 2, ... in order; ``rgb`` is a C-contiguous uint8
array shaped (height, width, 3) in RGB order, at the job's requested size.

Factories are registered by name in ``server.backends`` and called as ``factory(options)`` with a
``BackendOptions``. Nothing here imports torch or numpy, so ``--help`` and the preview backend
stay light.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Union, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from shared_protocol import Job


@dataclass(frozen=True)
class Progress:
    """Work is advancing: ``stage`` is e.g. "loading", "encoding", "denoising", "decoding"."""

    stage: str
    step: int = 0
    total: int = 0
    message: str = ""


@dataclass(frozen=True)
class Frame:
    """One finished frame, in index order; the server encodes and streams it."""

    index: int
    total: int
    rgb: "np.ndarray"


@dataclass(frozen=True)
class Done:
    """The job finished; ``info`` (msgpack-able) is forwarded in the ``done`` message body."""

    info: dict = field(default_factory=dict)


Event = Union[Progress, Frame, Done]


class BackendError(Exception):
    """A failure the user can act on; ``code`` travels in the ``error`` message, ``hint`` says what to try."""

    def __init__(self, message: str, code: str = "backend_error", hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint


class JobContext:
    """What a backend may ask about the job it runs: has it been cancelled, which seed to use."""

    def __init__(self, job_id: str, seed: int, cancel_event: threading.Event | None = None) -> None:
        self.job_id = job_id
        self.seed = seed
        self._cancel = cancel_event or threading.Event()
        self._on_cancel: list[Callable[[], None]] = []

    def cancelled(self) -> bool:
        """True once the client cancelled, vanished, or the server is shutting down."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        if self._cancel.is_set():
            return
        self._cancel.set()
        for callback in self._on_cancel:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when the job is cancelled (at once if it already is): how a
        cancel reaches a job that runs elsewhere (a Ray replica)."""
        self._on_cancel.append(callback)
        if self._cancel.is_set():
            callback()


@dataclass(frozen=True)
class BackendOptions:
    """Start-up settings a backend may use (from flags / env vars / the TOML config)."""

    svd_path: str | None = None
    adapter_path: str | None = None
    device: str = "auto"              # "auto", "cpu", "cuda", "cuda:1", "mps"
    dtype: str = "auto"               # "auto", "float16", "bfloat16", "float32"
    cpu_offload: bool = False
    decode_chunk_size: int = 8
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    name: str

    def load(self, report: Callable[[str], None]) -> None: ...

    def run(self, job: "Job", ctx: JobContext) -> Iterator[Event]: ...


BackendFactory = Callable[[BackendOptions], Backend]
