"""TrackGo wire protocol: msgpack header frame + binary payload frames over ZeroMQ.

Pure Python + msgpack (runs in the server and inside Blender). `docs/protocol.md`
is the normative spec; this package is its reference implementation.
"""

from . import errors, messages
from .addresses import is_ipv6, is_loopback
from .builders import (ImagePayload, TrackInput, backend_info, job_body, make_accepted, make_cancel,
                       make_cancelled, make_done, make_error, make_frame, make_hello, make_pong, make_ping,
                       make_plan, make_plan_result, make_progress, make_rejected, make_status,
                       make_status_reply, make_submit, make_welcome, png_image, point_track, raw_image, track)
from .codec import decode, encode
from .errors import ERROR_CODES, ProtocolError
from .images import encode_png
from .limits import Limits, server_lost_after
from .messages import DEFAULT_PARAMS, FINAL_TYPES, MESSAGE_TYPES, Message, new_id
from .stream import StreamChecker, StreamSequencer
from .validation import Arrow, GenerationParams, ImageSpec, Job, MaskSpec, PointTracks, Track, validate_job
from .version import PROTOCOL_VERSION, is_compatible, negotiated

__all__ = [
    # the contract in docs/architecture.md
    "PROTOCOL_VERSION", "ProtocolError", "Message", "encode", "decode", "Limits", "validate_job",
    "Job", "Track", "MaskSpec", "Arrow", "GenerationParams", "new_id",
    # additions: constants, image spec, version helpers, builders
    "errors", "messages", "ERROR_CODES", "DEFAULT_PARAMS", "MESSAGE_TYPES", "FINAL_TYPES", "ImageSpec",
    "is_compatible", "negotiated", "is_loopback", "is_ipv6", "server_lost_after", "StreamSequencer", "StreamChecker", "encode_png",
    "ImagePayload", "TrackInput", "png_image", "raw_image", "track", "job_body", "point_track", "PointTracks",
    "make_hello", "make_submit", "make_plan", "make_cancel", "make_status", "make_ping", "make_pong",
    "backend_info", "make_welcome", "make_accepted", "make_rejected", "make_progress", "make_frame",
    "make_done", "make_error", "make_cancelled", "make_status_reply", "make_plan_result",
]
