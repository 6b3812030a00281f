"""Message types, the `Message` value, and every default of a job, in one place.

Defaults come from SVD-XT's diffusers pipeline (25 frames, 1024x576, fps 7, motion
bucket 127, noise augmentation 0.02, 25 steps, guidance 1.0 -> 3.0) and from the
TrackGo paper (alpha = 0.2; tau = 0 lets the unspecified area move freely). Version 1.1 adds
the dual-clock clocks (Time-to-Move's SVD starting point, 16 and 21 of 50 steps, as fractions of
the schedule) and the preview's background_follow (0: the background stays still).
"""

import uuid
from dataclasses import dataclass, field

from .version import PROTOCOL_VERSION

# ---- message types ------------------------------------------------------------------
HELLO = "hello"
WELCOME = "welcome"
SUBMIT = "submit"
ACCEPTED = "accepted"
REJECTED = "rejected"
PROGRESS = "progress"
FRAME = "frame"
DONE = "done"
ERROR = "error"
CANCEL = "cancel"
CANCELLED = "cancelled"
STATUS = "status"
STATUS_REPLY = "status_reply"
PING = "ping"
PONG = "pong"
PLAN = "plan"
PLAN_RESULT = "plan_result"

MESSAGE_TYPES: frozenset[str] = frozenset({
    HELLO, WELCOME, SUBMIT, ACCEPTED, REJECTED, PROGRESS, FRAME, DONE, ERROR, CANCEL,
    CANCELLED, STATUS, STATUS_REPLY, PING, PONG, PLAN, PLAN_RESULT,
})
# Who may send what (ping/pong go both ways).
CLIENT_TYPES: frozenset[str] = frozenset({HELLO, SUBMIT, CANCEL, STATUS, PLAN, PING, PONG})
SERVER_TYPES: frozenset[str] = frozenset({
    WELCOME, ACCEPTED, REJECTED, PROGRESS, FRAME, DONE, ERROR, CANCELLED, STATUS_REPLY,
    PLAN_RESULT, PING, PONG,
})
# A job's reply stream ends with exactly one of these.
FINAL_TYPES: frozenset[str] = frozenset({DONE, ERROR, CANCELLED})
# Server messages that belong to a job's stream and carry `job` + `seq`.
STREAM_TYPES: frozenset[str] = frozenset({ACCEPTED, PROGRESS, FRAME, DONE, CANCELLED})
# Bodies that are a job (checked by validate_job, which needs the receiver's limits).
JOB_BODY_TYPES: frozenset[str] = frozenset({SUBMIT, PLAN})

# ---- enumerations -------------------------------------------------------------------
STAGES: tuple[str, ...] = ("queued", "loading", "preparing", "denoising", "decoding", "encoding")
EASINGS: tuple[str, ...] = ("linear", "ease-in", "ease-out", "ease-in-out")
IMAGE_FORMATS: tuple[str, ...] = ("png", "raw")
FRAME_FORMATS: tuple[str, ...] = ("png",)
MASK_KINDS: tuple[str, ...] = ("bitmap", "polygons")
JOB_STATES: tuple[str, ...] = ("queued", "running")

# ---- generation parameters: defaults and accepted ranges -----------------------------
DEFAULT_EASING = "linear"
SIZE_MULTIPLE = 64           # output width/height must be multiples of this (SVD latent / UNet)
MAX_SEED = 2**63 - 1
COORDINATE_BOUND = 1e6       # |x|, |y| of any point, in reference pixels
# Explicit point tracks (1.1): positions may lie this share of the reference size outside it
# (an object leaving the frame), no further.
POINT_TRACK_MARGIN = 0.5
POINT_TRACK_FORMATS: tuple[str, ...] = ("f32",)   # little-endian float32, (point, frame, xy) order

DEFAULT_PARAMS: dict = {
    "backend": None,              # None: the server's default backend
    "frames": 25,                 # SVD-XT
    "fps": 7,                     # SVD conditioning fps
    "motion_bucket_id": 127,
    "noise_aug_strength": 0.02,
    "num_inference_steps": 25,
    "min_guidance_scale": 1.0,
    "max_guidance_scale": 3.0,
    "seed": None,                 # None: the server picks one and reports it in `done`
    "tau": 0.0,                   # paper: 0 moves freely, -1e4 freezes the unspecified area
    "alpha": 0.2,                 # paper, Eq. 3 / 11
    "width": 1024,
    "height": 576,
    "decode_chunk_size": None,    # None: the backend decides
    # 1.1 (dual-clock): where the background starts denoising (w) and where the painted regions
    # are released (s), as fractions of the denoising schedule; 0 <= w < s <= 1
    "dual_clock_weak": 0.32,
    "dual_clock_strong": 0.42,
    # 1.1 (preview): how far the preview's background is dragged along with the regions
    # (0: bit-exact still; 1: as much as tau lets it)
    "background_follow": 0.0,
}

# name -> (kind, low, high, low_inclusive, high_inclusive). kind "int" or "float".
# frames / width / height are further bounded by the receiver's Limits.
PARAM_RANGES: dict = {
    "frames": ("int", 2, None, True, True),
    "fps": ("int", 1, 60, True, True),
    "motion_bucket_id": ("int", 0, 255, True, True),
    "noise_aug_strength": ("float", 0.0, 1.0, True, True),
    "num_inference_steps": ("int", 1, 100, True, True),
    "min_guidance_scale": ("float", 0.0, 20.0, True, True),
    "max_guidance_scale": ("float", 0.0, 20.0, True, True),
    "seed": ("int", 0, MAX_SEED, True, True),
    "tau": ("float", -1e4, 0.0, True, True),
    "alpha": ("float", 0.0, 1.0, False, False),
    "width": ("int", SIZE_MULTIPLE, None, True, True),
    "height": ("int", SIZE_MULTIPLE, None, True, True),
    "decode_chunk_size": ("int", 1, None, True, True),
    "dual_clock_weak": ("float", 0.0, 1.0, True, False),
    "dual_clock_strong": ("float", 0.0, 1.0, False, True),
    "background_follow": ("float", 0.0, 1.0, True, True),
}
NULLABLE_PARAMS: frozenset[str] = frozenset({"backend", "seed", "decode_chunk_size"})

MAX_ID_LENGTH = 64


def new_id() -> str:
    """A short unique id for a message or a job (32 hex characters)."""
    return uuid.uuid4().hex


@dataclass
class Message:
    """One protocol message: header fields plus the body map and the payload frames."""

    type: str
    id: str = field(default_factory=new_id)
    body: dict = field(default_factory=dict)
    payloads: list = field(default_factory=list)
    re: str | None = None
    job: str | None = None
    seq: int | None = None
    v: tuple = PROTOCOL_VERSION

    @property
    def is_final(self) -> bool:
        """True for the message that ends a job's reply stream (an `error` without `seq`
        answers a request instead, e.g. a `cancel` of an unknown job)."""
        return self.type in FINAL_TYPES and self.job is not None and self.seq is not None


# ---- shallow body schemas checked by `decode` -----------------------------------------
# field -> (allowed python types, required). Job bodies (submit, plan) are checked by
# validate_job instead. Unknown extra fields are always allowed (newer minor versions).
_NUM = (int, float)
_NONE = type(None)
BODY_SCHEMAS: dict = {
    HELLO: {"client": ((str,), True), "protocol": ((list,), True)},
    WELCOME: {
        "server": ((str,), True), "protocol": ((list,), True), "backends": ((list,), True),
        "default_backend": ((str, _NONE), True), "limits": ((dict,), True),
        "heartbeat_interval_s": (_NUM, True), "defaults": ((dict,), True),
    },
    SUBMIT: {},
    PLAN: {},
    ACCEPTED: {"queue_position": ((int,), True)},
    REJECTED: {"error": ((dict,), True)},
    PROGRESS: {
        "stage": ((str,), True), "step": ((int,), True), "total": ((int,), True),
        "eta_s": (_NUM + (_NONE,), False), "queue_position": ((int, _NONE), False),
        "message": ((str, _NONE), False),
    },
    FRAME: {
        "index": ((int,), True), "total": ((int,), True), "format": ((str,), True),
        "width": ((int,), True), "height": ((int,), True),
    },
    DONE: {"timings": ((dict,), True), "seed": ((int,), True), "params": ((dict,), True),
           "frames": ((int,), True)},
    ERROR: {"code": ((str,), True), "message": ((str,), True), "field": ((str, _NONE), False),
            "hint": ((str, _NONE), False)},
    CANCEL: {},
    CANCELLED: {"frames_sent": ((int,), True)},
    STATUS: {},
    STATUS_REPLY: {"jobs": ((list,), True), "queue_length": ((int,), True), "busy": ((bool,), True)},
    PING: {"t": (_NUM, True)},
    PONG: {"t": (_NUM, True)},
    PLAN_RESULT: {"tracks": ((list,), True), "frames": ((int,), True), "width": ((int,), True),
                  "height": ((int,), True), "output_width": ((int,), False), "output_height": ((int,), False),
                  "seed": ((int,), False)},
}
# Header requirements beyond the common keys: type -> (needs job, needs seq, payload count or None).
HEADER_RULES: dict = {
    ACCEPTED: (True, True, 0),
    PROGRESS: (True, True, 0),
    FRAME: (True, True, 1),
    DONE: (True, True, 0),
    CANCELLED: (True, True, 0),
    CANCEL: (True, False, 0),
}
