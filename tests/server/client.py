"""A small blocking DEALER client for the server's tests and benchmarks (not the add-on's client).

Every byte goes through ``shared_protocol``; server pings are answered automatically so a
client that is only waiting still counts as alive.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import zmq

import shared_protocol as sp

# A client accepts whatever the server may legitimately send (frames up to 4K PNGs).
CLIENT_LIMITS = sp.Limits(max_message_bytes=256 * 1024 * 1024)


@dataclass
class JobStream:
    """Everything one job's stream delivered, in arrival order."""

    request_id: str
    job_id: str | None = None
    messages: list = field(default_factory=list)
    rejected: sp.Message | None = None

    @property
    def final(self) -> sp.Message | None:
        finals = [m for m in self.messages if m.type in sp.FINAL_TYPES]
        return finals[-1] if finals else None

    @property
    def frames(self) -> list[sp.Message]:
        return [m for m in self.messages if m.type == "frame"]

    @property
    def finished(self) -> bool:
        return self.rejected is not None or self.final is not None


class TestClient:
    __test__ = False  # not a pytest class

    def __init__(self, endpoint: str, context: zmq.Context | None = None, curve: tuple | None = None,
                 answer_pings: bool = True) -> None:
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        # A DEALER with no usable connection (e.g. a refused CURVE handshake) blocks in send:
        # fail with zmq.Again instead of hanging a test.
        self.socket.setsockopt(zmq.SNDTIMEO, 2000)
        if curve is not None:
            server_public, public, secret = curve
            self.socket.curve_serverkey = server_public
            self.socket.curve_publickey = public
            self.socket.curve_secretkey = secret
        self.socket.connect(endpoint)
        self.answer_pings = answer_pings
        self.streams: dict[str, JobStream] = {}       # by request id
        self._by_job: dict[str, JobStream] = {}
        self.others: list[sp.Message] = []            # replies that belong to no job
        self.last_heard = time.monotonic()

    def close(self) -> None:
        self.socket.close(0)

    def send(self, msg: sp.Message) -> sp.Message:
        self.socket.send_multipart(sp.encode(msg))
        return msg

    def send_raw(self, frames: list[bytes]) -> None:
        self.socket.send_multipart(frames)

    def recv(self, timeout: float = 5.0) -> sp.Message | None:
        """Next message that is not a ping (pings are answered), or None on time-out."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.socket.poll(int(left * 1000) + 1):
                return None
            msg = sp.decode(self.socket.recv_multipart(), CLIENT_LIMITS)
            self.last_heard = time.monotonic()
            if msg.type == "ping":
                if self.answer_pings:
                    self.send(sp.make_pong(msg))
                continue
            self._route(msg)
            return msg

    def _route(self, msg: sp.Message) -> None:
        if msg.type == "accepted":
            stream = self.streams.get(msg.re)
            if stream is not None:
                stream.job_id = msg.job
                self._by_job[msg.job] = stream
        if msg.type == "rejected" and msg.re in self.streams:
            self.streams[msg.re].rejected = msg
            return
        stream = self._by_job.get(msg.job) if msg.job else None
        if stream is not None:
            stream.messages.append(msg)
        else:
            self.others.append(msg)

    def request(self, msg: sp.Message, timeout: float = 5.0) -> sp.Message:
        """Send a request and wait for the reply whose ``re`` is its id."""
        self.send(msg)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.recv(deadline - time.monotonic())
            if reply is not None and reply.re == msg.id and reply.type not in ("accepted", "rejected"):
                return reply
        raise TimeoutError(f"no reply to {msg.type} within {timeout} s")

    def hello(self) -> sp.Message:
        return self.request(sp.make_hello("trackgo-tests"))

    def submit(self, msg: sp.Message) -> JobStream:
        stream = self.streams[msg.id] = JobStream(msg.id)
        self.send(msg)
        return stream

    def wait_accepted(self, stream: JobStream, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while stream.job_id is None and stream.rejected is None and time.monotonic() < deadline:
            self.recv(deadline - time.monotonic())
        if stream.job_id is None:
            raise AssertionError(f"job not accepted: {stream.rejected.body if stream.rejected else 'time-out'}")
        return stream.job_id

    def wait_all(self, streams, timeout: float = 30.0) -> None:
        """Receive until every stream has its final message (or was rejected)."""
        deadline = time.monotonic() + timeout
        while not all(s.finished for s in streams):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sum(not s.finished for s in streams)} job(s) unfinished after {timeout} s")
            self.recv(min(0.5, max(0.0, deadline - time.monotonic())))

    def run_job(self, msg: sp.Message, timeout: float = 30.0) -> JobStream:
        stream = self.submit(msg)
        self.wait_all([stream], timeout)
        return stream
