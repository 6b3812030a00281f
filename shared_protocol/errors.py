"""The single exception type of the protocol and its machine-readable error codes.

Every failure the package detects is a `ProtocolError`; receivers turn it into an
`error` (or `rejected`) message with `to_body()`, so the peer learns the field at
fault and what was expected.
"""

# Malformed framing or header, undecodable msgpack, wrong header types.
BAD_MESSAGE = "bad_message"
# Peer speaks another major version.
UNSUPPORTED_VERSION = "unsupported_version"
# `type` is not a message type this major version knows.
UNKNOWN_TYPE = "unknown_type"
# A body field has the wrong type, is out of range or inconsistent with another field.
INVALID_FIELD = "invalid_field"
# Message or a value exceeds one of the receiver's limits (bytes, frames, size, tracks...).
TOO_LARGE = "too_large"
# The job queue is full; try again later.
QUEUE_FULL = "queue_full"
# `cancel` (or another job request) names a job the server does not know.
UNKNOWN_JOB = "unknown_job"
# The backend failed while loading or generating.
BACKEND_ERROR = "backend_error"
# The accelerator ran out of memory; smaller size/frames or decode_chunk_size may help.
OUT_OF_MEMORY = "out_of_memory"
# The server cannot take the request right now (e.g. a backend is still loading).
BUSY = "busy"
# The server is stopping; the job will not run.
SHUTTING_DOWN = "shutting_down"
# A bug on the sender's side; the message says what happened.
INTERNAL = "internal"
# (1.1) The machine or process running the job died mid-job (a cluster replica); others carry on.
WORKER_LOST = "worker_lost"

ERROR_CODES: frozenset[str] = frozenset({
    BAD_MESSAGE, UNSUPPORTED_VERSION, UNKNOWN_TYPE, INVALID_FIELD, TOO_LARGE, QUEUE_FULL,
    UNKNOWN_JOB, BACKEND_ERROR, OUT_OF_MEMORY, BUSY, SHUTTING_DOWN, INTERNAL, WORKER_LOST,
})


class ProtocolError(Exception):
    """A protocol-level failure: `code` (one of ERROR_CODES), human `message`, `field` path.

    `field` is a path into the message, e.g. ``tracks[1].arrow.points[0]`` for a body
    field or ``header.npayloads`` for a header key; None when no single field is at fault.
    `re` and `job` are filled by `decode` when the failing message's id / job id could
    still be read, so the receiver can address its `error` reply.
    """

    def __init__(self, code: str, message: str, field: str | None = None, hint: str | None = None,
                 *, re: str | None = None, job: str | None = None):
        super().__init__(f"{code}: {message}" + (f" (field {field})" if field else ""))
        self.code = code
        self.message = message
        self.field = field
        self.hint = hint
        self.re = re
        self.job = job

    def to_body(self) -> dict:
        """The body of an `error` message (also the `error` map inside `rejected`)."""
        return {"code": self.code, "message": self.message, "field": self.field, "hint": self.hint}

    def __repr__(self) -> str:
        return f"ProtocolError({self.code!r}, {self.message!r}, field={self.field!r})"
