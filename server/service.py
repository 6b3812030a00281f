"""The server's I/O thread: one ROUTER socket, client sessions, heartbeats, job bookkeeping.

Only this thread touches the socket (ZeroMQ sockets are not thread-safe). Device workers and
the encoder pool hand results over through ``post``: a thread-safe queue plus a byte written to
a pipe that the ZeroMQ poller watches, so the loop wakes at once without polling.

Every byte on the wire goes through ``shared_protocol`` (encode / decode / validate_job).
Invariants kept here, centrally, rather than in each backend:

* each job's reply stream carries ``seq`` 0, 1, 2, ... and ends with exactly one final message
  (done | error | cancelled); anything a worker reports after that is dropped;
* frames are sent in index order, whatever order the encoder pool finishes them in, and the
  ``done`` is held back until the last frame has gone out;
* nothing a peer sends can raise out of the loop: undecodable input gets an ``error`` reply
  (``re`` set when the id could be read) or is dropped and logged.
"""
from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import zmq

import shared_protocol as sp
from server.backends.base import JobContext
from server.scheduler import FairQueue, QueueFull
from server.worker import (
    DeviceWorker, FinalPosted, FramePosted, ProgressPosted, RunningJob, WorkerIdle, plain,
)

log = logging.getLogger("trackgo.server")

SERVER_NAME = "trackgo-server 0.1.0"
# Incoming messages handled per loop turn before the outbox gets its turn (keeps frames flowing
# while a client floods the socket).
RECV_BATCH = 64
# libzmq queues up to this many outgoing messages per client before send would block. A frame
# message is ~1-2 MB, so the default of 1000 could pin gigabytes for a stalled client; past this
# the service keeps its own per-client backlog (in order), bounded by MAX_BACKLOG_BYTES.
SEND_HWM = 64
# A client that lets more than this wait unread is dropped like a vanished one (its jobs cancelled).
MAX_BACKLOG_BYTES = 512 * 1024 * 1024
# Incoming messages libzmq buffers per client (each up to max_message_bytes): a flood cannot
# make the server hold more than this many per peer before TCP backpressure kicks in.
RECV_HWM = 16
# On close, try this long to deliver what is queued (the shutdown notices), never hang forever.
CLOSE_LINGER_MS = 1000
# Clients dropped for silence whose cancelled jobs are remembered, in case they come back.
MAX_ORPHAN_CLIENTS = 256
# Plans waiting for or running on the plan thread; each holds its job's images, so past this a
# plan is answered ``busy`` at once instead of piling up in memory.
MAX_PENDING_PLANS = 8


@dataclass
class Session:
    """One connected client (a ROUTER identity)."""

    identity: bytes
    last_seen: float
    name: str = ""
    backlog: deque = field(default_factory=deque)   # frame lists waiting for the client's HWM to clear
    backlog_bytes: int = 0


@dataclass(frozen=True)
class PlanComputed:
    """A ``plan`` finished on the plan thread; the I/O thread sends the reply."""

    identity: bytes
    request_id: str
    future: Future


@dataclass
class JobRecord:
    job_id: str
    identity: bytes
    request_id: str
    job: Any
    ctx: JobContext
    state: str = "queued"              # queued | running | finished
    seq: int = 0
    frames_sent: int = 0
    pending_frames: dict = field(default_factory=dict)   # index -> FramePosted waiting for its turn
    held_final: FinalPosted | None = None
    last_position: int | None = None
    worker: DeviceWorker | None = None
    running: RunningJob | None = None
    stage_start: tuple | None = None     # (stage, step, monotonic time) for the ETA
    accepted_at: float = field(default_factory=time.monotonic)


class Service:
    """Owns the ROUTER socket and runs the I/O loop (``serve``) in the calling thread."""

    def __init__(self, *, bind: str, backends: list, encoder, limits: sp.Limits, queue_length: int,
                 heartbeat_interval: float = 1.0, heartbeat_liveness: int = 5, loaded: bool = True,
                 backend_descriptions: dict | None = None, plan: Callable | None = None,
                 context: zmq.Context | None = None, curve_keys=None) -> None:
        self.bind_address = bind
        self.limits = limits
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_interval * heartbeat_liveness
        self.encoder = encoder
        self.backend_name = backends[0].name
        self._backend_descriptions = backend_descriptions or {}
        self._backend_params = getattr(backends[0], "params", None)   # None: every parameter
        self._plan = plan
        self._context = context or zmq.Context.instance()
        self._curve_keys = curve_keys
        self._auth = None
        self.queue: FairQueue[JobRecord] = FairQueue(queue_length)
        self.sessions: dict[bytes, Session] = {}
        self.jobs: dict[str, JobRecord] = {}          # live jobs only (queued or running)
        # Jobs of clients dropped for silence, told on their return (a frozen Blender may wake up).
        self._orphans: dict[bytes, list[JobRecord]] = {}
        self._outbox: deque = deque()                 # appended by other threads; deque ops are atomic
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stopping = False
        # plans are quick (K-means on a few hundred points) but run beside the I/O thread anyway
        self._plan_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackgo-plan")
        self._plans_pending = 0
        self.workers = [DeviceWorker(getattr(b, "device", None) or str(i), b, encoder, self.post, loaded)
                        for i, b in enumerate(backends)]
        self._idle: list[DeviceWorker] = list(self.workers)
        self.socket: zmq.Socket | None = None
        self.endpoint: str | None = None
        self.ready = threading.Event()

    # ---- set-up ----------------------------------------------------------------------------
    def bind(self) -> str:
        """Create and bind the ROUTER socket; returns the bound endpoint (resolves port ``*``)."""
        sock = self._context.socket(zmq.ROUTER)
        # Without this a ROUTER silently drops messages to peers that went away; with it, send
        # raises EHOSTUNREACH and the service cancels that client's jobs.
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # libzmq enforces this per frame before allocating it; shared_protocol checks the total.
        sock.setsockopt(zmq.MAXMSGSIZE, int(self.limits.max_message_bytes))
        sock.setsockopt(zmq.SNDHWM, SEND_HWM)
        sock.setsockopt(zmq.RCVHWM, RECV_HWM)
        # Default linger is forever: a vanished client would make shutdown hang.
        sock.setsockopt(zmq.LINGER, CLOSE_LINGER_MS)
        if self._curve_keys is not None:
            from server.security import enable_curve
            self._auth = enable_curve(self._context, sock, self._curve_keys)
        try:
            sock.bind(self.bind_address)
        except zmq.ZMQError as exc:
            sock.close(0)
            if self._auth is not None:
                self._auth.stop()
                self._auth = None
            raise OSError(f"bind: cannot listen on {self.bind_address} ({exc.strerror}); "
                          "is another server running there? choose another --bind port") from None
        self.socket = sock
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return self.endpoint

    def abort(self) -> None:
        """Release everything after a failed start-up (``serve`` never ran)."""
        self._stopping = True
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        self.encoder.shutdown()
        self._plan_pool.shutdown(wait=False)
        self._close_wake_pipe()

    def _close_wake_pipe(self) -> None:
        """Close both ends of the wake-up pipe once; later calls are no-ops."""
        fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def start_workers(self) -> None:
        for worker in self.workers:
            worker.start()

    # ---- cross-thread entry points ----------------------------------------------------------
    def post(self, item: object) -> None:
        """Called from worker / encoder threads: queue ``item`` for the I/O loop and wake it."""
        self._outbox.append(item)
        self._wake()

    def request_stop(self) -> None:
        """Ask the loop to shut down gracefully (safe from signal handlers and other threads)."""
        self._stopping = True
        self._wake()

    def _wake(self) -> None:
        fd = self._wake_w
        if fd < 0:
            return  # closed at shutdown: never write to a descriptor number that may be reused
        try:
            os.write(fd, b"\0")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: the loop is awake already

    # ---- the loop ----------------------------------------------------------------------------
    def serve(self) -> None:
        """Run until ``request_stop``; then tell every live job and close the socket."""
        assert self.socket is not None, "bind() first"
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        next_beat = time.monotonic() + self.heartbeat_interval
        self.ready.set()
        try:
            while not self._stopping:
                backlog = any(s.backlog for s in self.sessions.values())
                timeout = max(0.0, next_beat - time.monotonic())
                if backlog:
                    timeout = min(timeout, 0.01)
                events = dict(poller.poll(int(timeout * 1000) + 1))
                if self._wake_r in events:
                    self._drain_wake_pipe()
                if self.socket in events:
                    self._receive_batch()
                self._process_outbox()
                if backlog:
                    self._flush_backlogs()
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat(now)
                    next_beat = now + self.heartbeat_interval
        finally:
            self._shutdown()

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _receive_batch(self) -> None:
        for _ in range(RECV_BATCH):
            try:
                frames = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                self._handle_frames(frames)
            except Exception:  # a bug in one handler must not take the server down
                log.exception("unexpected failure handling a message; dropped")

    # ---- incoming --------------------------------------------------------------------------
    def _handle_frames(self, frames: list[bytes]) -> None:
        identity, parts = frames[0], frames[1:]
        session = self.sessions.get(identity)
        if session is None:
            session = self.sessions[identity] = Session(identity, time.monotonic())
            if identity in self._orphans:
                self._tell_orphans(identity)
        session.last_seen = time.monotonic()
        try:
            msg = sp.decode(parts, self.limits)
        except sp.ProtocolError as exc:
            log.debug("bad message from %s: %s", identity.hex(), exc)
            self._send_error(identity, exc.to_body(), re=exc.re)
            return
        handler = self._handlers.get(msg.type)
        if handler is None:
            self._send_error(identity, {"code": "bad_message", "field": "header.type", "hint": None,
                                        "message": f"a client may not send {msg.type!r} messages"}, re=msg.id)
            return
        handler(self, session, msg)

    def _on_hello(self, session: Session, msg: sp.Message) -> None:
        session.name = str(msg.body.get("client", ""))[:200]
        # Only the backend this process runs: jobs for any other are rejected (params.backend).
        # ready is false until its model is loaded (--lazy-load); jobs queue meanwhile.
        # params: the job parameters it honours (1.1), so the add-on can hide the others.
        backends = [sp.backend_info(self.backend_name, all(w.loaded for w in self.workers),
                                    self._backend_descriptions.get(self.backend_name, ""), True,
                                    self._backend_params)]
        body = {
            "server": SERVER_NAME,
            "protocol": list(sp.PROTOCOL_VERSION),
            "backends": backends,
            "default_backend": self.backend_name,
            "limits": self.limits.to_body(),
            "heartbeat_interval_s": float(self.heartbeat_interval),
            "defaults": dict(sp.DEFAULT_PARAMS),
        }
        self._send(session.identity, sp.Message(type="welcome", body=body, re=msg.id))

    def _on_ping(self, session: Session, msg: sp.Message) -> None:
        self._send(session.identity, sp.Message(type="pong", body={"t": msg.body["t"]}, re=msg.id))

    def _on_pong(self, session: Session, msg: sp.Message) -> None:
        pass  # last_seen is already updated; that is all a pong is for

    def _validate(self, msg: sp.Message):
        return sp.validate_job(msg.body, msg.payloads, self.limits, backends={self.backend_name})

    def _on_submit(self, session: Session, msg: sp.Message) -> None:
        if self._stopping:
            self._reject(session, msg, {"code": "shutting_down", "message": "the server is shutting down",
                                        "field": None, "hint": "start it again, then resubmit"})
            return
        try:
            job = self._validate(msg)
        except sp.ProtocolError as exc:
            self._reject(session, msg, exc.to_body())
            return
        job_id = sp.new_id()
        seed = job.params.seed if job.params.seed is not None else random.randrange(2**31)
        record = JobRecord(job_id, session.identity, msg.id, job, JobContext(job_id, seed))
        try:
            self.queue.push(session.identity, job_id, record)
        except QueueFull as exc:
            self._reject(session, msg, {"code": "queue_full", "message": str(exc), "field": None,
                                        "hint": "wait for a job to finish, then submit again"})
            return
        self.jobs[job_id] = record
        position = self.queue.positions()[job_id] + 1
        record.last_position = position
        self._send_job(record, "accepted", {"queue_position": position}, re=msg.id)
        self._dispatch()
        self._send_positions()   # a newcomer goes ahead of other clients' later jobs: tell them

    def _reject(self, session: Session, msg: sp.Message, error: dict) -> None:
        self._send(session.identity, sp.Message(type="rejected", body={"error": error}, re=msg.id))

    def _on_cancel(self, session: Session, msg: sp.Message) -> None:
        record = self.jobs.get(msg.job)
        if record is None or record.identity != session.identity:
            # Not this client's live job (unknown, finished, or someone else's): no job header, so
            # the reply can never be taken for a second final message of a finished job.
            self._send_error(session.identity, {
                "code": "unknown_job", "field": "header.job", "hint": None,
                "message": f"no queued or running job {msg.job!r} of yours (it may have finished)"}, re=msg.id)
            return
        if record.state == "queued":
            self.queue.remove(record.job_id)
            self._finish(record, "cancelled", {"frames_sent": 0}, re=msg.id)
            self._send_positions()
        else:
            record.ctx.cancel()  # the backend stops within one step; its late events are dropped
            self._finish(record, "cancelled", {"frames_sent": record.frames_sent}, re=msg.id)

    def _on_status(self, session: Session, msg: sp.Message) -> None:
        positions = self.queue.positions()
        jobs = []
        for record in self.jobs.values():
            if record.identity == session.identity:
                pos = positions[record.job_id] + 1 if record.state == "queued" else 0
                jobs.append({"job": record.job_id, "state": record.state, "queue_position": pos})
        body = {"jobs": jobs, "queue_length": len(self.queue),
                "busy": not self._idle}   # every worker is running a job (protocol.md)
        self._send(session.identity, sp.Message(type="status_reply", body=body, re=msg.id))

    def _on_plan(self, session: Session, msg: sp.Message) -> None:
        """Validate here, compute on the plan thread: sampling a big mask must not stall frames."""
        try:
            job = self._validate(msg)
            if self._plan is None:
                raise sp.ProtocolError("internal", "this server cannot compute plans (server.motion missing)")
        except sp.ProtocolError as exc:
            self._send_error(session.identity, exc.to_body(), re=msg.id)
            return
        if self._plans_pending >= MAX_PENDING_PLANS:
            self._send_error(session.identity, {
                "code": "busy", "field": None, "hint": "wait for the plans already sent, then ask again",
                "message": f"{self._plans_pending} plans are being computed already"}, re=msg.id)
            return
        self._plans_pending += 1
        identity, request_id = session.identity, msg.id
        future = self._plan_pool.submit(self._plan, job)
        future.add_done_callback(lambda fut: self.post(PlanComputed(identity, request_id, fut)))

    def _send_plan(self, item: "PlanComputed") -> None:
        self._plans_pending -= 1
        if item.future.cancelled():
            return
        exc = item.future.exception()
        if exc is None:
            body = plain(item.future.result())
            self._send(item.identity, sp.Message(type="plan_result", body=body, re=item.request_id))
            return
        if hasattr(exc, "field"):  # server.motion's MotionInputError names the field at fault
            body = {"code": "invalid_field", "message": str(getattr(exc, "message", exc))[:500],
                    "field": exc.field, "hint": None}
        else:
            log.error("plan failed", exc_info=exc)
            body = {"code": "internal", "message": f"plan failed: {type(exc).__name__}: {str(exc)[:300]}",
                    "field": None, "hint": "the server log has the traceback"}
        self._send_error(item.identity, body, re=item.request_id)

    _handlers = {
        "hello": _on_hello, "ping": _on_ping, "pong": _on_pong, "submit": _on_submit,
        "cancel": _on_cancel, "status": _on_status, "plan": _on_plan,
    }

    # ---- scheduling ------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Start queued jobs on idle workers, then tell waiting clients their new positions."""
        started = False
        while self._idle and len(self.queue):
            _, _, record = self.queue.pop()
            worker = self._idle.pop(0)
            record.state, record.worker = "running", worker
            record.running = RunningJob(record.job_id, record.job, record.ctx, accepted_at=record.accepted_at)
            worker.assign(record.running)
            self._send_job(record, "progress", {"stage": "preparing", "step": 0, "total": 0,
                                                "eta_s": None, "queue_position": 0})
            started = True
        if started:
            self._send_positions()

    def _send_positions(self) -> None:
        for job_id, position in self.queue.positions().items():
            record = self.jobs.get(job_id)
            if record is None or record.state != "queued":
                continue
            if record.last_position != position + 1:
                record.last_position = position + 1
                self._send_job(record, "progress", {"stage": "queued", "step": 0, "total": 0, "eta_s": None,
                                                    "queue_position": position + 1})

    # ---- from the workers ------------------------------------------------------------------
    def _process_outbox(self) -> None:
        while self._outbox:
            item = self._outbox.popleft()
            try:
                self._handle_posted(item)
            except Exception:
                log.exception("unexpected failure handling %s; dropped", type(item).__name__)

    def _handle_posted(self, item: object) -> None:
        if isinstance(item, PlanComputed):
            self._send_plan(item)
            return
        if isinstance(item, WorkerIdle):
            if item.worker not in self._idle:
                self._idle.append(item.worker)
            if not self._stopping:
                self._dispatch()
            return
        record = self.jobs.get(item.job_id)
        if record is None:
            return  # finished already (cancelled, client gone): late events are dropped here
        if isinstance(item, ProgressPosted):
            p = item.progress
            body = {"stage": p.stage, "step": int(p.step), "total": int(p.total), "eta_s": self._eta(record, p)}
            if p.message:
                body["message"] = p.message
            self._send_job(record, "progress", body)
        elif isinstance(item, FramePosted):
            record.pending_frames[item.index] = item
            while record.frames_sent in record.pending_frames and record.state != "finished":
                f = record.pending_frames.pop(record.frames_sent)
                self._send_job(record, "frame", {"index": f.index, "total": f.total, "format": "png",
                                                 "width": f.width, "height": f.height}, payloads=[f.png])
                record.frames_sent += 1
            self._maybe_release_final(record)
        elif isinstance(item, FinalPosted):
            if item.frames_submitted < 0:   # encoding failed: nothing more will come
                self._finish(record, item.kind, item.body)
            else:
                record.held_final = item
                self._maybe_release_final(record)

    @staticmethod
    def _eta(record: JobRecord, p) -> float | None:
        """Seconds left in this stage, from its pace so far (None until two steps were seen)."""
        now = time.monotonic()
        if record.stage_start is None or record.stage_start[0] != p.stage:
            record.stage_start = (p.stage, p.step, now)
            return None
        _, first_step, started = record.stage_start
        if p.total <= 0 or p.step <= first_step:
            return None
        per_step = (now - started) / (p.step - first_step)
        return round(per_step * max(0, p.total - p.step), 2)

    def _maybe_release_final(self, record: JobRecord) -> None:
        final = record.held_final
        if final is not None and record.frames_sent >= final.frames_submitted:
            body = dict(final.body)
            if final.kind == "cancelled":
                body["frames_sent"] = record.frames_sent
            self._finish(record, final.kind, body)

    # ---- sending ---------------------------------------------------------------------------
    def _send_job(self, record: JobRecord, kind: str, body: dict, payloads=(), re: str | None = None) -> None:
        if record.state == "finished":
            return
        msg = sp.Message(type=kind, body=body, payloads=list(payloads), re=re, job=record.job_id, seq=record.seq)
        try:
            frames = sp.encode(msg)
        except sp.ProtocolError as exc:
            log.error("job %s: cannot encode its %s message (%s)", record.job_id, kind, exc.message)
            if kind not in sp.FINAL_TYPES:
                return      # drop one progress message rather than the job
            msg = sp.Message(type="error", re=re, job=record.job_id, seq=record.seq, body={
                "code": "internal", "message": f"the server could not encode the job's {kind} message",
                "field": None, "hint": "the server log has details"})
            frames = sp.encode(msg)
        record.seq += 1
        self._send_encoded(record.identity, frames)

    def _finish(self, record: JobRecord, kind: str, body: dict, re: str | None = None) -> None:
        """Send the one final message of a job and forget it; later calls are no-ops."""
        if record.state == "finished":
            return
        self._send_job(record, kind, body, re=re)
        record.state = "finished"
        record.ctx.cancel()   # stops the backend if it is still running (no-op after done)
        record.pending_frames.clear()
        self.jobs.pop(record.job_id, None)

    def _send_error(self, identity: bytes, body: dict, re: str | None = None) -> None:
        self._send(identity, sp.Message(type="error", body=body, re=re))

    def _send(self, identity: bytes, msg: sp.Message) -> None:
        self._send_encoded(identity, sp.encode(msg))

    def _send_encoded(self, identity: bytes, encoded: list) -> None:
        frames = [identity] + encoded
        session = self.sessions.get(identity)
        if session is not None and session.backlog:
            self._queue_backlog(session, frames)   # keep order behind what is already waiting
            return
        try:
            self.socket.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            # The client's high-water mark is reached: keep the message, in order, in our backlog.
            if session is not None:
                self._queue_backlog(session, frames)
            else:
                log.debug("dropping a reply to %s: its queue is full", identity.hex())
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                self._client_gone(identity, "disconnected")
            else:
                log.warning("send to %s failed: %s", identity.hex(), exc)

    def _queue_backlog(self, session: Session, frames: list) -> None:
        session.backlog.append(frames)
        session.backlog_bytes += sum(len(f) for f in frames)
        if session.backlog_bytes > MAX_BACKLOG_BYTES:
            # Still connected (a frozen Blender, say): like a silent one, told if it speaks again.
            self._client_gone(session.identity, f"not reading: {session.backlog_bytes >> 20} MiB waiting",
                              silent=True)

    def _flush_backlogs(self) -> None:
        for session in list(self.sessions.values()):
            while session.backlog:
                frames = session.backlog[0]
                try:
                    self.socket.send_multipart(frames, zmq.NOBLOCK)
                except zmq.Again:
                    break
                except zmq.ZMQError as exc:
                    if exc.errno == zmq.EHOSTUNREACH:
                        self._client_gone(session.identity, "disconnected")
                    break
                session.backlog.popleft()
                session.backlog_bytes -= sum(len(f) for f in frames)

    # ---- liveness --------------------------------------------------------------------------
    def _heartbeat(self, now: float) -> None:
        for session in list(self.sessions.values()):
            if now - session.last_seen > self.heartbeat_timeout:
                self._client_gone(session.identity, f"silent for {now - session.last_seen:.1f} s", silent=True)
            else:
                self._send(session.identity, sp.Message(type="ping", body={"t": time.time()}))

    def _client_gone(self, identity: bytes, reason: str, silent: bool = False) -> None:
        """Forget a client: drop its queued jobs, cancel its running one (frees the device).

        A client that closed its socket is noticed through EHOSTUNREACH at the next message sent
        to it; one that is still connected but silent (``silent``) may come back, so its jobs'
        final ``cancelled`` is kept and sent if it does.
        """
        session = self.sessions.pop(identity, None)
        dropped = [record for record in self.jobs.values() if record.identity == identity]
        if session is None and not dropped:
            return
        log.info("client %s gone (%s); dropping %d job(s)", identity.hex(), reason, len(dropped))
        self.queue.remove_client(identity)
        for record in dropped:
            record.state = "finished"
            record.ctx.cancel()
            self.jobs.pop(record.job_id, None)
        if silent and dropped:
            self._orphans[identity] = dropped
            while len(self._orphans) > MAX_ORPHAN_CLIENTS:
                self._orphans.pop(next(iter(self._orphans)))
        self._send_positions()

    def _tell_orphans(self, identity: bytes) -> None:
        """A client dropped for silence spoke again: end each of its dropped jobs' streams."""
        for record in self._orphans.pop(identity, []):
            msg = sp.Message(type="cancelled", job=record.job_id, seq=record.seq,
                             body={"frames_sent": record.frames_sent, "reason": "client_timed_out",
                                   "message": f"this client sent nothing for {self.heartbeat_timeout:g} s or "
                                              "left too many replies unread; the job was cancelled to free "
                                              "the device"})
            self._send(identity, msg)

    # ---- shutdown --------------------------------------------------------------------------
    def _shutdown(self) -> None:
        log.info("shutting down: %d live job(s)", len(self.jobs))
        for record in list(self.jobs.values()):
            if record.state == "running":
                self._finish(record, "cancelled", {"frames_sent": record.frames_sent, "reason": "shutting_down"})
            else:
                self._finish(record, "error", {"code": "shutting_down", "message": "the server is shutting down",
                                               "field": None, "hint": "start it again, then resubmit"})
        self._flush_backlogs()
        for worker in self.workers:
            worker.stop()
        deadline = time.monotonic() + 10.0
        for worker in self.workers:
            if worker.is_alive():
                worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                log.warning("worker %s did not stop within 10 s; leaving it behind", worker.name)
        self.encoder.shutdown()
        if self.socket is not None:
            self.socket.close(CLOSE_LINGER_MS)
        if self._auth is not None:
            self._auth.stop()
        self._plan_pool.shutdown(wait=False, cancel_futures=True)
        self._close_wake_pipe()
