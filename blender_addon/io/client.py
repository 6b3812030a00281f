"""Non-blocking protocol client over a ZeroMQ DEALER, driven by repeated ``poll`` calls.

Blender's main thread calls :meth:`Client.poll` from a timer; it never blocks: every receive
is ``zmq.NOBLOCK`` and it stops after a small time budget. It tracks the connection
(hello → welcome with a version check), sends heartbeats and declares the server lost when
nothing arrives for ``timeout_s``. Every byte goes through ``shared_protocol``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import zmq
import zmq.auth

from ..protocol import sp

is_loopback = sp.is_loopback  # re-exported: the bpy layer asks the client module

CLIENT_NAME = "trackgo-blender"


@dataclass
class Event:
    """What one poll learnt. ``kind`` is a server message type (accepted, rejected, progress,
    frame, done, error, cancelled, plan_result) or connected / connect_failed / server_lost /
    server_restarted (``body["jobs"]``: the jobs it interrupted)."""
    kind: str
    job: str | None = None
    re: str | None = None
    body: dict = field(default_factory=dict)
    payload: bytes | None = None
    message: str = ""


@dataclass(frozen=True)
class CurveKeys:
    """Z85 keys for a remote server: the server's public key and this client's pair."""
    server_public: str
    client_public: str
    client_secret: str


def curve_keys(server_public: str, client_public: str = "", client_secret: str = "") -> CurveKeys | None:
    """CURVE keys from the preferences: each value is a Z85 key or the path of a key file made
    by ``trackgo-keygen`` (``zmq.auth`` certificates; a ``.key_secret`` file holds both halves
    of the client's pair). Empty server key: no encryption (a loopback server)."""
    if not server_public:
        return None

    def load(value: str, field: str, secret: bool) -> tuple[str, str]:
        value = value.strip()
        if os.path.isfile(os.path.expanduser(value)):
            try:
                public, secret_key = zmq.auth.load_certificate(os.path.expanduser(value))
            except (OSError, ValueError) as exc:
                raise ValueError(f"{field}: cannot read key file {value!r}: {exc}") from None
            if secret and secret_key is None:
                raise ValueError(f"{field}: {value!r} holds no secret key (use the .key_secret file)")
            return public.decode(), (secret_key or b"").decode()
        if len(value) != 40:
            raise ValueError(f"{field}: expected a 40-character Z85 key or a key file, got {value[:12]!r}…")
        return value, value

    server, _ = load(server_public, "server public key", False)
    if not client_secret:
        raise ValueError("client secret key: expected a Z85 key or the client's .key_secret file "
                         "(make one with trackgo-keygen)")
    pub, sec = load(client_secret, "client secret key", True)
    if client_public:
        pub, _ = load(client_public, "client public key", False)
    return CurveKeys(server, pub, sec)


def normalize_address(text: str) -> str:
    """What the user typed → a ZeroMQ address: ``127.0.0.1:5555`` and ``localhost:5555`` mean
    ``tcp://…`` (the scheme is easy to forget); anything else unclear is refused by name."""
    address = (text or "").strip()
    if not address:
        raise ValueError("server address: expected something like tcp://127.0.0.1:5555, got nothing")
    if "://" not in address:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"server address: expected host:port or tcp://host:port "
                             f"(like tcp://127.0.0.1:5555), got {address!r}")
        address = "tcp://" + address
    return address


def describe_error(body: dict, track_names: list[str] | None = None) -> str:
    """A readable sentence from an error body; a ``tracks[i]...`` field names the track."""
    text = str(body.get("message") or body.get("code") or "unknown error")
    where = body.get("field")
    if where:
        if track_names and where.startswith("tracks["):
            try:
                idx = int(where[len("tracks["):where.index("]")])
                where = f"track {track_names[idx]!r} ({where})"
            except (ValueError, IndexError):
                pass
        text = f"{where}: {text}"
    if body.get("hint"):
        text += f" — {body['hint']}"
    return text


class Client:
    STATES = ("idle", "connecting", "ready", "failed", "lost", "closed")

    def __init__(self, address: str, timeout_s: float = 10.0, curve: CurveKeys | None = None,
                 context: zmq.Context | None = None, clock=time.monotonic, name: str = CLIENT_NAME):
        if not isinstance(address, str) or "://" not in address:
            raise ValueError(f"server address: expected something like tcp://127.0.0.1:5555, got {address!r}")
        if timeout_s <= 0:
            raise ValueError(f"timeout: expected a positive number of seconds, got {timeout_s}")
        self.address, self.timeout_s, self.curve = address, float(timeout_s), curve
        self.name, self.clock = name, clock
        self.context = context or zmq.Context.instance()
        self.socket: zmq.Socket | None = None
        self.state = "idle"
        self.reason = ""
        self.welcome: dict = {}
        self.limits = sp.Limits()
        self.heartbeat_s = 1.0
        self._hello_id: str | None = None
        self.instance: str | None = None    # the server process we talk to (welcome / pong)
        self._started = self._last_heard = self._last_ping = 0.0
        self.open_jobs: set[str] = set()

    # ---- connection ---------------------------------------------------------------
    def connect(self) -> None:
        """Open the socket and send hello; the answer arrives through :meth:`poll`."""
        self.close()
        sock = self.context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, 4 * self.limits.max_message_bytes)
        sock.setsockopt(zmq.RCVHWM, 10000)
        # A stable routing id: a dropped connection that comes back is the same client to the
        # server, which then ends the jobs it dropped in words instead of silently.
        sock.setsockopt(zmq.ROUTING_ID, f"trackgo-{os.getpid()}-{id(self):x}-{time.time_ns():x}".encode())
        if sp.is_ipv6(self.address):
            sock.setsockopt(zmq.IPV6, 1)
        if self.curve is not None:
            sock.curve_serverkey = self.curve.server_public.encode()
            sock.curve_publickey = self.curve.client_public.encode()
            sock.curve_secretkey = self.curve.client_secret.encode()
        try:
            sock.connect(self.address)
        except zmq.ZMQError as exc:
            sock.close(0)
            self._fail("failed", f"server address {self.address!r}: {exc}")
            return
        self.socket = sock
        self.state = "connecting"
        self._started = self._last_heard = self._last_ping = self.clock()
        hello = sp.make_hello(self.name)
        self._hello_id = hello.id
        self.send(hello)

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None
        if self.state in ("connecting", "ready"):
            self.state = "closed"

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def _fail(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None

    # ---- sending -------------------------------------------------------------------
    def send(self, msg) -> bool:
        """Queue one message without blocking; False when the socket cannot take it now."""
        if self.socket is None:
            return False
        try:
            self.socket.send_multipart(sp.encode(msg), flags=zmq.NOBLOCK, copy=False)
            return True
        except zmq.Again:
            return False

    def submit(self, body: dict, payloads: list[bytes]) -> str:
        """Send a job; returns the request id. The server's ``accepted`` (or ``rejected``)
        answers it with ``re`` = that id and carries the job id the stream then uses."""
        self._require_ready()
        msg = sp.Message(type=sp.messages.SUBMIT, body=body, payloads=list(payloads))
        if not self.send(msg):
            raise ConnectionError("the server is not taking messages (send queue full)")
        return msg.id

    def plan(self, body: dict, payloads: list[bytes]) -> str:
        """Ask for the sampled points and their paths; the answer's ``re`` is the returned id."""
        self._require_ready()
        msg = sp.Message(type=sp.messages.PLAN, body=body, payloads=list(payloads))
        if not self.send(msg):
            raise ConnectionError("the server is not taking messages (send queue full)")
        return msg.id

    def cancel(self, job: str) -> None:
        if self.socket is not None:
            self.send(sp.make_cancel(job))

    def _require_ready(self) -> None:
        if not self.ready:
            raise ConnectionError(self.reason or f"not connected to {self.address}")

    # ---- receiving -----------------------------------------------------------------
    def poll(self, budget_s: float = 0.003, max_messages: int = 64) -> list[Event]:
        """Handle what has arrived (never waits), send heartbeats, detect a lost server."""
        events: list[Event] = []
        if self.socket is None:
            return events
        start = self.clock()
        for _ in range(max_messages):
            try:
                frames = self.socket.recv_multipart(flags=zmq.NOBLOCK, copy=True)
            except zmq.Again:
                break
            self._last_heard = self.clock()
            try:
                msg = sp.decode(frames)
            except sp.ProtocolError as exc:
                if exc.code == sp.errors.UNSUPPORTED_VERSION:
                    events.append(self._version_failure(str(exc.message)))
                    return events
                continue  # a malformed message is dropped, the stream goes on
            ev = self._handle(msg)
            if ev is not None:
                events.append(ev)
                if ev.kind in ("connect_failed",):
                    return events
            if self.clock() - start > budget_s:
                break
        self._heartbeat(events)
        return events

    def _version_failure(self, detail: str) -> Event:
        reason = (f"wrong protocol version: the server at {self.address} speaks another major "
                  f"version ({detail}); update the add-on or the server")
        self._fail("failed", reason)
        return Event("connect_failed", message=reason)

    def _handle(self, msg) -> Event | None:
        t = msg.type
        restarted = self._instance_changed(msg)
        if restarted is not None:
            return restarted
        if t == sp.messages.WELCOME:
            peer = msg.body.get("protocol", [])
            if not (isinstance(peer, list) and len(peer) == 2 and sp.version.is_compatible(peer)):
                return self._version_failure(f"server protocol {peer}, add-on {list(sp.PROTOCOL_VERSION)}")
            self.welcome = msg.body
            self.limits = sp.Limits.from_body(msg.body.get("limits", {}))
            hb = msg.body.get("heartbeat_interval_s")
            self.heartbeat_s = float(hb) if isinstance(hb, (int, float)) and hb > 0 else 1.0
            self.state = "ready"
            return Event("connected", body=msg.body,
                         message=f"connected to {msg.body.get('server', 'server')} at {self.address}")
        if t == sp.messages.PING:
            self.send(sp.make_pong(msg))
            return None
        if t in (sp.messages.PONG, sp.messages.STATUS_REPLY):
            return None
        if t == sp.messages.ERROR and self.state == "connecting" and msg.job is None:
            if msg.body.get("code") == sp.errors.UNSUPPORTED_VERSION:
                return self._version_failure(str(msg.body.get("message")))
            reason = f"server refused the connection: {describe_error(msg.body)}"
            self._fail("failed", reason)
            return Event("connect_failed", message=reason, body=msg.body)
        if t == sp.messages.ACCEPTED:
            self.open_jobs.add(msg.job)
        elif t in sp.messages.FINAL_TYPES:
            self.open_jobs.discard(msg.job)
        payload = msg.payloads[0] if msg.payloads else None
        return Event(t, job=msg.job, re=msg.re, body=msg.body, payload=payload)

    def _instance_changed(self, msg) -> Event | None:
        """A welcome or pong from another server process: the old one's jobs are gone. End them
        as interrupted and say hello again (protocol.md, "Server instance")."""
        if msg.type not in (sp.messages.WELCOME, sp.messages.PONG):
            return None
        instance = msg.body.get("instance")
        if not isinstance(instance, str):
            return None
        if self.instance is None or instance == self.instance:
            self.instance = instance
            return None
        self.instance = instance
        jobs = sorted(self.open_jobs)
        self.open_jobs.clear()
        self.state = "connecting"
        self._started = self.clock()
        hello = sp.make_hello(self.name)
        self._hello_id = hello.id
        self.send(hello)
        return Event("server_restarted", body={"jobs": jobs},
                     message=f"the server restarted; {len(jobs)} running job(s) were interrupted")

    def _heartbeat(self, events: list[Event]) -> None:
        now = self.clock()
        if self.state == "connecting":
            if now - self._started > self.timeout_s:
                reason = (f"server unreachable at {self.address}: no answer in {self.timeout_s:.0f} s "
                          f"(is it running? is the address right?)")
                self._fail("failed", reason)
                events.append(Event("connect_failed", message=reason))
            return
        if self.state != "ready":
            return
        if now - self._last_heard > sp.server_lost_after(self.heartbeat_s):
            jobs = sorted(self.open_jobs)
            self.open_jobs.clear()
            reason = (f"server lost: nothing heard from {self.address} for "
                      f"{now - self._last_heard:.0f} s")
            self._fail("lost", reason)
            events.append(Event("server_lost", message=reason, body={"jobs": jobs}))
            return
        if now - self._last_ping >= self.heartbeat_s:
            self._last_ping = now
            self.send(sp.make_ping())
