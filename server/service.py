"""The front: the ZeroMQ ROUTER socket and its I/O loop, and the protocol handlers.

Only this thread touches the socket (ZeroMQ sockets are not thread-safe). Whatever runs the
jobs (a ``server.runners`` runner: device threads here, or Ray Serve replicas) and the plan
thread hand results over through ``post``: a thread-safe queue plus a byte written to a pipe that
the ZeroMQ poller watches, so the loop wakes at once without polling.

Each concern has a module of its own: ``sessions`` (clients, those that went away),
``heartbeats``, ``jobs`` (live jobs, quotas, each stream's order), ``plans``, ``sending``
(backlogs), ``shutdown`` (how live jobs end), ``runners`` (where jobs run). Invariants kept here, centrally, rather than in each backend or runner:

* each job's reply stream carries ``seq`` 0, 1, 2, ... and ends with exactly one final message
  (done | error | cancelled); anything reported after that is dropped;
* frames are sent in index order, whatever order they were encoded in, and the ``done`` is held
  back until the last frame has gone out;
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
from typing import Callable

import zmq

import shared_protocol as sp
from server.backends.base import JobContext
from server.job_events import FinalPosted, FramePosted, ProgressPosted, SlotFree
from server.heartbeats import Heartbeats
from server.jobs import JobBook, JobRecord
from server.plans import MAX_PENDING_PLANS, PlanComputed, Plans  # noqa: F401  (MAX_PENDING_PLANS: re-export)
from server.runners import JobRunner, LocalRunner
from server.scheduler import QueueFull
from server.sending import SEND_HWM, Sender
from server.sessions import Session, Sessions  # noqa: F401  (Session: re-export for callers)
from server.shutdown import SHUTTING_DOWN, shutdown_final

log = logging.getLogger("trackgo.server")

SERVER_NAME = "trackgo-server 0.1.0"
# Incoming messages handled per loop turn before the outbox gets its turn (keeps frames flowing
# while a client floods the socket).
RECV_BATCH = 64
# Incoming messages libzmq buffers per client (each up to the too-large ceiling): a flood cannot
# make the server hold more than this many per peer before TCP backpressure kicks in.
RECV_HWM = 16
# On close, try this long to deliver what is queued (the shutdown notices), never hang forever.
CLOSE_LINGER_MS = 1000
# How long shutdown waits for running jobs to stop.
STOP_TIMEOUT_S = 10.0


def too_large_ceiling(limits: sp.Limits) -> int:
    """Per-frame size libzmq still reads: four times the message limit, so an oversized message
    (a 4096x4096 reference, say) gets a ``too_large`` reply instead of vanishing."""
    return 4 * int(limits.max_message_bytes)


def hello_version_problem(msg: sp.Message) -> dict | None:
    """An error body when ``hello.protocol`` is malformed, of another major, or not the header's."""
    body_version = msg.body.get("protocol")
    if len(body_version) != 2 or any(type(part) is not int or part < 0 for part in body_version):
        return {"code": "invalid_field", "field": "protocol", "hint": None,
                "message": f"expected [major, minor] as two non-negative integers, got {body_version!r:.60}"}
    ours = sp.PROTOCOL_VERSION
    if not sp.is_compatible(body_version):
        return {"code": "unsupported_version", "field": "protocol",
                "message": f"hello.protocol says {body_version[0]}.{body_version[1]}; this server speaks "
                           f"{ours[0]}.{ours[1]}", "hint": f"use protocol {ours[0]}.x"}
    if tuple(body_version) != tuple(msg.v):
        return {"code": "invalid_field", "field": "protocol", "hint": "send the same version in both places",
                "message": f"hello.protocol says {body_version[0]}.{body_version[1]} but the header's v says "
                           f"{msg.v[0]}.{msg.v[1]}"}
    return None


class Service:
    """Owns the ROUTER socket and runs the I/O loop (``serve``) in the calling thread."""

    def __init__(self, *, bind: str, backends: list | None = None, encoder, limits: sp.Limits,
                 queue_length: int, heartbeat_interval: float = 1.0, heartbeat_liveness: int = 5,
                 loaded: bool = True, backend_descriptions: dict | None = None, plan: Callable | None = None,
                 context: zmq.Context | None = None, curve_keys=None, client_quota: int | None = None,
                 runner: JobRunner | None = None, backend_name: str | None = None) -> None:
        self.bind_address = bind
        self.limits = limits
        self.heartbeat_interval = heartbeat_interval
        self.heartbeats = Heartbeats(heartbeat_interval, heartbeat_liveness)
        self.heartbeat_timeout = self.heartbeats.timeout
        self.encoder = encoder
        self.backend_name = backend_name or backends[0].name
        self._backend_descriptions = backend_descriptions or {}
        self._backend_params = getattr(backends[0], "params", None)   # None: every parameter
        self._context = context or zmq.Context.instance()
        self._curve_keys = curve_keys
        self._auth = None
        # This process's id, in welcome and pong: a client that sees it change knows the server
        # restarted and that its running jobs are gone (protocol.md, "Server instance").
        self.instance = sp.new_id()
        self.book = JobBook(queue_length, client_quota)
        self.queue = self.book.queue
        self.jobs = self.book.live                      # live jobs only (queued or running)
        self.sessions = Sessions()
        self.sender = Sender(self.sessions, self._client_gone)
        self.plans = Plans(plan, self.post)
        self.runner: JobRunner = runner or LocalRunner(backends, encoder, loaded)
        self._outbox: deque = deque()                 # appended by other threads; deque ops are atomic
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stopping = False
        self.socket: zmq.Socket | None = None
        self.endpoint: str | None = None
        self.ready = threading.Event()

    @property
    def workers(self) -> list:
        """The device threads of a local runner (none for a cluster)."""
        return getattr(self.runner, "workers", [])

    @property
    def _plan(self):          # the plan function (tests slow it down)
        return self.plans.plan

    @_plan.setter
    def _plan(self, value) -> None:
        self.plans.plan = value

    # ---- set-up ----------------------------------------------------------------------------
    def bind(self) -> str:
        """Create and bind the ROUTER socket; returns the bound endpoint (resolves port ``*``)."""
        sock = self._context.socket(zmq.ROUTER)
        # Without this a ROUTER silently drops messages to peers that went away; with it, send
        # raises EHOSTUNREACH and the service cancels that client's jobs.
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        # A larger frame than this is dropped by libzmq with no reply; anything up to it is read
        # and answered ``too_large`` with the limit (protocol.md, "Too-large messages").
        sock.setsockopt(zmq.MAXMSGSIZE, too_large_ceiling(self.limits))
        sock.setsockopt(zmq.SNDHWM, SEND_HWM)
        sock.setsockopt(zmq.RCVHWM, RECV_HWM)
        # Default linger is forever: a vanished client would make shutdown hang.
        sock.setsockopt(zmq.LINGER, CLOSE_LINGER_MS)
        if sp.is_ipv6(self.bind_address):
            sock.setsockopt(zmq.IPV6, 1)   # tcp://[::1]:P (without it libzmq says "No such device")
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
        self.socket = self.sender.socket = sock
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
        self.runner.stop(0.0)
        self.encoder.shutdown()
        self.plans.shutdown()
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
        self.runner.start(self.post)

    # ---- cross-thread entry points ----------------------------------------------------------
    def post(self, item: object) -> None:
        """Called from runner / plan threads: queue ``item`` for the I/O loop and wake it."""
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
        self.ready.set()
        try:
            while not self._stopping:
                backlog = self.sender.has_backlog()
                timeout = self.heartbeats.wait_s(time.monotonic())
                if backlog:
                    timeout = min(timeout, 0.01)
                events = dict(poller.poll(int(timeout * 1000) + 1))
                if self._wake_r in events:
                    self._drain_wake_pipe()
                if self.socket in events:
                    self._receive_batch()
                self._process_outbox()
                if backlog:
                    self.sender.flush()
                now = time.monotonic()
                if self.heartbeats.due(now):
                    self._heartbeat(now)
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
        session, created = self.sessions.seen(identity, time.monotonic())
        if created and identity in self.sessions.orphans:
            self._tell_orphans(identity)
        try:
            msg = sp.decode(parts, self.limits, accept=sp.messages.CLIENT_TYPES)
        except sp.ProtocolError as exc:
            log.debug("bad message from %s: %s", identity.hex(), exc)
            body = exc.to_body()
            if exc.code == sp.errors.TOO_LARGE and exc.field in (None, "header"):
                body["limit"] = self.limits.max_header_bytes if exc.field else self.limits.max_message_bytes
            self._send_error(identity, body, re=exc.re)
            return
        self._handlers[msg.type](self, session, msg)

    def _on_hello(self, session: Session, msg: sp.Message) -> None:
        problem = hello_version_problem(msg)
        if problem is not None:
            self._send_error(session.identity, problem, re=msg.id)
            return
        session.name = str(msg.body.get("client", ""))[:200]
        # Only the backend this process runs: jobs for any other are rejected (params.backend).
        # ready is false until its model is loaded (--lazy-load); jobs queue meanwhile.
        # params: the job parameters it honours (1.1), so the add-on can hide the others.
        backends = [sp.backend_info(self.backend_name, self.runner.ready(),
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
            "instance": self.instance,
        }
        self._send(session.identity, sp.Message(type="welcome", body=body, re=msg.id))

    def _on_ping(self, session: Session, msg: sp.Message) -> None:
        self._send(session.identity, sp.Message(type="pong", body={"t": msg.body["t"], "instance": self.instance},
                                                re=msg.id))

    def _on_pong(self, session: Session, msg: sp.Message) -> None:
        pass  # last_seen is already updated; that is all a pong is for

    def _validate(self, msg: sp.Message):
        return sp.validate_job(msg.body, msg.payloads, self.limits, backends={self.backend_name})

    def _on_submit(self, session: Session, msg: sp.Message) -> None:
        if self._stopping:
            self._reject(session, msg, dict(SHUTTING_DOWN))
            return
        try:
            job = self._validate(msg)
        except sp.ProtocolError as exc:
            self._reject(session, msg, exc.to_body())
            return
        full = self.book.room_problem(session.identity)
        if full is not None:
            self._reject(session, msg, full)
            return
        job_id = sp.new_id()
        seed = job.params.seed if job.params.seed is not None else random.randrange(2**31)
        record = JobRecord(job_id, session.identity, msg.id, job, JobContext(job_id, seed))
        try:
            position = self.book.add(record)
        except QueueFull as exc:
            self._reject(session, msg, {"code": "queue_full", "message": str(exc), "field": None,
                                        "hint": "wait for a job to finish, then submit again"})
            return
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
        was_queued = record.state == "queued"
        # A running job's backend stops within one step (ctx.cancel); its late events are dropped.
        self._finish(record, "cancelled", {"frames_sent": record.frames_sent}, re=msg.id)
        if was_queued:
            self._send_positions()

    def _on_status(self, session: Session, msg: sp.Message) -> None:
        positions = self.queue.positions()
        jobs = []
        for record in self.book.of_client(session.identity):
            pos = positions[record.job_id] + 1 if record.state == "queued" else 0
            jobs.append({"job": record.job_id, "state": record.state, "queue_position": pos})
        body = {"jobs": jobs, "queue_length": len(self.queue),
                "busy": self.runner.all_busy(),     # every worker / replica slot runs a job (protocol.md)
                "cluster": self.runner.describe()}
        self._send(session.identity, sp.Message(type="status_reply", body=body, re=msg.id))

    def _on_plan(self, session: Session, msg: sp.Message) -> None:
        """Validate here, compute on the plan thread: sampling a big mask must not stall frames."""
        try:
            job = self._validate(msg)
            if self.plans.plan is None:
                raise sp.ProtocolError("internal", "this server cannot compute plans (server.motion missing)")
        except sp.ProtocolError as exc:
            self._send_error(session.identity, exc.to_body(), re=msg.id)
            return
        busy = self.plans.busy_error()
        if busy is not None:
            self._send_error(session.identity, busy, re=msg.id)
            return
        self.plans.submit(session.identity, msg.id, job)

    _handlers = {
        "hello": _on_hello, "ping": _on_ping, "pong": _on_pong, "submit": _on_submit,
        "cancel": _on_cancel, "status": _on_status, "plan": _on_plan,
    }

    # ---- scheduling ------------------------------------------------------------------------
    def _dispatch(self) -> None:
        """Hand queued jobs to the runner while it has room, then tell waiting clients their positions."""
        started = False
        while self.runner.has_room() and len(self.queue):
            record = self.book.next_to_run()
            self.runner.assign(record.running)
            self._send_job(record, "progress", {"stage": "preparing", "step": 0, "total": 0,
                                                "eta_s": None, "queue_position": 0})
            started = True
        if started:
            self._send_positions()

    def _send_positions(self) -> None:
        for record, position in self.book.moved_positions():
            self._send_job(record, "progress", {"stage": "queued", "step": 0, "total": 0, "eta_s": None,
                                                "queue_position": position})

    # ---- from the runner and the plan thread -----------------------------------------------
    def _process_outbox(self) -> None:
        while self._outbox:
            item = self._outbox.popleft()
            try:
                self._handle_posted(item)
            except Exception:
                log.exception("unexpected failure handling %s; dropped", type(item).__name__)

    def _handle_posted(self, item: object) -> None:
        if isinstance(item, PlanComputed):
            reply = self.plans.reply(item)
            if reply is not None:
                self._send(item.identity, sp.Message(type=reply[0], body=reply[1], re=item.request_id))
            return
        if isinstance(item, SlotFree):
            self.runner.slot_free(item)
            if not self._stopping:
                self._dispatch()
            return
        record = self.jobs.get(item.job_id)
        if record is None:
            return  # finished already (cancelled, client gone): late events are dropped here
        if isinstance(item, ProgressPosted):
            p = item.progress
            body = {"stage": p.stage, "step": int(p.step), "total": int(p.total),
                    "eta_s": record.eta(p.stage, p.step, p.total)}
            if p.message:
                body["message"] = p.message
            self._send_job(record, "progress", body)
        elif isinstance(item, FramePosted):
            for f in record.frames_in_order(item):
                if record.state == "finished":
                    break
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

    def _maybe_release_final(self, record: JobRecord) -> None:
        final = record.releasable_final()
        if final is None:
            return
        body = dict(final.body)
        if final.kind == "cancelled":
            body["frames_sent"] = record.frames_sent
        elif final.kind == "done" and isinstance(body.get("timings"), dict):
            # accepted -> done as the client sees it: taken now, as the final message goes out
            body["timings"] = dict(body["timings"], total=round(time.monotonic() - record.accepted_at, 4))
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
        self.sender.send(record.identity, frames)

    def _finish(self, record: JobRecord, kind: str, body: dict, re: str | None = None) -> None:
        """Send the one final message of a job and forget it; later calls are no-ops."""
        if record.state == "finished":
            return
        self._send_job(record, kind, body, re=re)
        self.book.forget(record)

    def _send_error(self, identity: bytes, body: dict, re: str | None = None) -> None:
        self._send(identity, sp.Message(type="error", body=body, re=re))

    def _send(self, identity: bytes, msg: sp.Message) -> None:
        self.sender.send(identity, sp.encode(msg))

    # ---- liveness --------------------------------------------------------------------------
    def _heartbeat(self, now: float) -> None:
        gone, alive = self.heartbeats.split(self.sessions, now)
        for session in gone:
            self._client_gone(session.identity, f"silent for {now - session.last_seen:.1f} s", silent=True)
        for session in alive:
            if session.identity in self.sessions:     # not dropped meanwhile
                self._send(session.identity, self.heartbeats.ping())

    def _client_gone(self, identity: bytes, reason: str, silent: bool = False) -> None:
        """Forget a client: drop its queued jobs, cancel its running one (frees the device).

        A client that closed its socket is noticed through EHOSTUNREACH at the next message sent
        to it; one that is still connected but silent (``silent``) may come back, and so may a
        dropped connection under the same routing id: its jobs' final ``cancelled`` is kept and
        sent if it does.
        """
        session = self.sessions.pop(identity, None)
        dropped = self.book.drop_client(identity)
        if session is None and not dropped:
            return
        log.info("client %s gone (%s); dropping %d job(s)", identity.hex(), reason, len(dropped))
        if dropped:
            self.sessions.remember(identity, "client_timed_out" if silent else "client_disconnected", dropped)
        self._send_positions()

    def _tell_orphans(self, identity: bytes) -> None:
        """A client whose jobs were dropped spoke again: end each dropped job's stream."""
        reason, records = self.sessions.take_orphans(identity)
        text = ("the connection to this client dropped while the job ran; it was cancelled to free the device"
                if reason == "client_disconnected" else
                f"this client sent nothing for {self.heartbeat_timeout:g} s or left too many replies unread; "
                "the job was cancelled to free the device")
        for record in records:
            msg = sp.Message(type="cancelled", job=record.job_id, seq=record.seq,
                             body={"frames_sent": record.frames_sent, "reason": reason, "message": text})
            self._send(identity, msg)

    # ---- shutdown --------------------------------------------------------------------------
    def _shutdown(self) -> None:
        """Every live job gets its final message, then the runner, encoder and socket stop."""
        log.info("shutting down: %d live job(s)", len(self.jobs))
        for record in list(self.jobs.values()):
            self._finish(record, *shutdown_final(record))
        self.sender.flush()
        self.runner.stop(STOP_TIMEOUT_S)
        self.encoder.shutdown()
        if self.socket is not None:
            self.socket.close(CLOSE_LINGER_MS)
        if self._auth is not None:
            self._auth.stop()
        self.plans.shutdown()
        self._close_wake_pipe()
