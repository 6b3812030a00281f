"""Frames <-> `Message`: a msgpack header frame followed by raw payload frames.

`decode` is the trust boundary: it checks sizes before unpacking, unpacks with a
fresh, limited msgpack Unpacker, and raises only `ProtocolError`.
"""

import logging
import math

import msgpack

from . import errors
from .errors import ProtocolError
from .limits import Limits
from .messages import BODY_SCHEMAS, HEADER_RULES, MAX_ID_LENGTH, MESSAGE_TYPES, Message
from .version import PROTOCOL_VERSION, is_compatible

HEADER_KEYS = ("v", "type", "id", "re", "job", "seq", "body", "npayloads")
MAX_SEQ = 2**63 - 1
# Maps and arrays inside a body nest at most this deep (a job needs 6: tracks[i].mask.polygons[j][k]);
# deeper is refused as invalid_field before anything recurses into it.
MAX_NESTING = 32

log = logging.getLogger("trackgo.protocol")


def encode(msg: Message) -> list[bytes]:
    """The ZeroMQ frames of `msg`: [header, payload_0, ...]. Raises ProtocolError if
    the message cannot be represented (non-msgpack body values, payloads not bytes)."""
    header = {"v": [int(msg.v[0]), int(msg.v[1])], "type": msg.type, "id": msg.id,
              "body": msg.body, "npayloads": len(msg.payloads)}
    if msg.re is not None:
        header["re"] = msg.re
    if msg.job is not None:
        header["job"] = msg.job
    if msg.seq is not None:
        header["seq"] = msg.seq
    try:
        packed = msgpack.packb(header, use_bin_type=True, strict_types=False, datetime=False)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ProtocolError(errors.INTERNAL, f"cannot encode {msg.type!r} message: {exc}", "body") from exc
    frames = [packed]
    for index, payload in enumerate(msg.payloads):
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise ProtocolError(errors.INTERNAL, f"payload {index} must be bytes, got {type(payload).__name__}",
                                f"payloads[{index}]")
        frames.append(bytes(payload))
    return frames


def decode(frames, limits: Limits = Limits(), accept: frozenset[str] | None = None) -> Message:
    """Parse and check one message (identity frame already stripped). Only raises ProtocolError.

    `accept`: the message types this receiver takes from its peer (a server: CLIENT_TYPES); any
    other known type is `bad_message` before its body is looked at. None accepts every type.
    """
    try:
        return _decode(frames, limits, accept)
    except ProtocolError:
        raise
    except Exception:  # safety net: a bug here must still reach the peer as a protocol error
        # The peer learns that it was our fault, never our internals; the log has the traceback.
        log.exception("decode failed unexpectedly")
        raise ProtocolError(errors.INTERNAL, "the receiver failed to decode this message (a bug on its side)",
                            hint="the receiver's log has details") from None


def valid_id(value) -> str | None:
    """`value` when it is a usable message/job id (a str of 1..MAX_ID_LENGTH), else None: an id
    copied into a reply's `re` or `job` must itself be valid."""
    return value if type(value) is str and 1 <= len(value) <= MAX_ID_LENGTH else None


def _decode(frames, limits: Limits, accept: frozenset[str] | None = None) -> Message:
    views = _as_views(frames)
    if not views:
        raise ProtocolError(errors.BAD_MESSAGE, "expected at least one frame (the header), got none", "header")
    total = sum(view.nbytes for view in views)
    if total > limits.max_message_bytes:
        raise ProtocolError(errors.TOO_LARGE, f"message is {total} bytes, the limit is {limits.max_message_bytes}",
                            re=_peek_id(views[0], limits))
    if len(views) - 1 > limits.max_payloads:
        raise ProtocolError(errors.TOO_LARGE, f"message has {len(views) - 1} payload frames, "
                            f"the limit is {limits.max_payloads}", "header.npayloads", re=_peek_id(views[0], limits))
    header = _unpack_header(views[0], limits)
    msg_id = valid_id(header.get("id"))
    job_id = valid_id(header.get("job"))
    try:
        return _check_header(header, views, msg_id, accept)
    except ProtocolError as exc:
        exc.re = exc.re or msg_id
        exc.job = exc.job or job_id
        raise


def _peek_id(view: memoryview, limits: Limits) -> str | None:
    """The id of a message refused for its payloads, when its header alone is readable: the
    sender then learns which request was too large."""
    try:
        header = _unpack_header(view, limits)
    except ProtocolError:
        return None
    return valid_id(header.get("id"))


def _as_views(frames) -> list[memoryview]:
    if isinstance(frames, (bytes, bytearray, memoryview, str)) or not hasattr(frames, "__iter__"):
        raise ProtocolError(errors.BAD_MESSAGE, f"expected a list of frames, got {type(frames).__name__}")
    views = []
    for index, frame in enumerate(frames):
        try:
            view = memoryview(frame)
        except TypeError:
            raise ProtocolError(errors.BAD_MESSAGE, f"frame {index} is {type(frame).__name__}, expected bytes",
                                f"frames[{index}]") from None
        views.append(view.cast("B") if view.format != "B" or view.ndim != 1 else view)
    return views


def _pairs_to_map(pairs):
    """Maps at every depth: string keys only (msgpack's strict_map_key still allows binary), no repeats."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in map")
    if not all(type(key) is str for key in result):
        raise ValueError("map keys must be strings")
    return result


def _unpack_header(view: memoryview, limits: Limits) -> dict:
    size = view.nbytes
    if size == 0:
        raise ProtocolError(errors.BAD_MESSAGE, "header frame is empty, expected a msgpack map", "header")
    if size > limits.max_header_bytes:
        raise ProtocolError(errors.TOO_LARGE, f"header is {size} bytes, the limit is {limits.max_header_bytes}",
                            "header")
    # Every length is bounded by the header size: nothing can claim more than it carries.
    unpacker = msgpack.Unpacker(
        raw=False, strict_map_key=True, use_list=True, timestamp=0,
        object_pairs_hook=_pairs_to_map, max_buffer_size=size,
        max_str_len=size, max_bin_len=size, max_array_len=size, max_map_len=size, max_ext_len=0,
    )
    try:
        unpacker.feed(view)
        header = unpacker.unpack()
        consumed = unpacker.tell()
    except msgpack.OutOfData:
        raise ProtocolError(errors.BAD_MESSAGE, "header frame is truncated msgpack", "header") from None
    except Exception as exc:
        raise ProtocolError(errors.BAD_MESSAGE, f"header frame is not valid msgpack: {exc}", "header") from None
    if consumed != size:
        raise ProtocolError(errors.BAD_MESSAGE, f"header frame has {size - consumed} bytes after the msgpack map",
                            "header")
    if not isinstance(header, dict):
        raise ProtocolError(errors.BAD_MESSAGE, f"header must be a msgpack map, got {_kind(header)}", "header")
    for key in header:
        if type(key) is not str:
            raise ProtocolError(errors.BAD_MESSAGE, f"header keys must be strings, got {_kind(key)}", "header")
    return header


def _check_header(header: dict, views: list[memoryview], msg_id, accept: frozenset[str] | None) -> Message:
    version = header.get("v")
    if (type(version) is not list or len(version) != 2
            or any(type(part) is not int or not 0 <= part < 2**32 for part in version)):
        raise ProtocolError(errors.BAD_MESSAGE, f"expected [major, minor] as two non-negative integers, "
                            f"got {_show(version)}", "header.v")
    if not is_compatible(version):
        raise ProtocolError(errors.UNSUPPORTED_VERSION,
                            f"protocol major version {version[0]} is not supported; this side speaks "
                            f"{PROTOCOL_VERSION[0]}.{PROTOCOL_VERSION[1]}", "header.v",
                            hint=f"use protocol {PROTOCOL_VERSION[0]}.x")
    kind = header.get("type")
    if type(kind) is not str:
        raise ProtocolError(errors.BAD_MESSAGE, f"expected a string, got {_show(kind)}", "header.type")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(errors.UNKNOWN_TYPE, f"unknown message type {kind[:64]!r}", "header.type")
    if accept is not None and kind not in accept:
        raise ProtocolError(errors.BAD_MESSAGE, f"a {kind!r} message is not accepted from this side "
                            f"(expected one of {', '.join(sorted(accept))})", "header.type")
    _check_id(header.get("id"), "header.id", required=True)
    _check_id(header.get("re"), "header.re", required=False)
    _check_id(header.get("job"), "header.job", required=False)
    seq = header.get("seq")
    if seq is not None and (type(seq) is not int or not 0 <= seq <= MAX_SEQ):
        raise ProtocolError(errors.BAD_MESSAGE, f"expected an integer 0..2**63-1 or nil, got {_show(seq)}",
                            "header.seq")
    body = header.get("body")
    if body is None:  # absent or nil: "not given" (protocol.md section 2), an empty body
        body = {}
    if type(body) is not dict:
        raise ProtocolError(errors.BAD_MESSAGE, f"expected a map, got {_show(body)}", "header.body")
    npayloads = header.get("npayloads")
    if type(npayloads) is not int:
        raise ProtocolError(errors.BAD_MESSAGE, f"expected an integer, got {_show(npayloads)}", "header.npayloads")
    if npayloads != len(views) - 1:
        raise ProtocolError(errors.BAD_MESSAGE, f"header announces {npayloads} payload frames, "
                            f"{len(views) - 1} followed", "header.npayloads")
    if seq is not None and header.get("job") is None:
        raise ProtocolError(errors.BAD_MESSAGE, "a sequence number needs a job id (seq numbers a job's stream)",
                            "header.job")
    needs_job, needs_seq, payload_count = HEADER_RULES.get(kind, (False, False, None))
    if needs_job and header.get("job") is None:
        raise ProtocolError(errors.BAD_MESSAGE, f"a {kind!r} message needs a job id", "header.job")
    if needs_seq and seq is None:
        raise ProtocolError(errors.BAD_MESSAGE, f"a {kind!r} message needs a sequence number", "header.seq")
    if payload_count is not None and npayloads != payload_count:
        raise ProtocolError(errors.BAD_MESSAGE, f"a {kind!r} message carries {payload_count} payload frames, "
                            f"got {npayloads}", "header.npayloads")
    _check_body(kind, body)
    return Message(type=kind, id=msg_id, body=body, payloads=[view.tobytes() for view in views[1:]],
                   re=header.get("re"), job=header.get("job"), seq=seq, v=(version[0], version[1]))


def _check_id(value, field: str, required: bool) -> None:
    if value is None and not required:
        return
    if type(value) is not str or not 1 <= len(value) <= MAX_ID_LENGTH:
        raise ProtocolError(errors.BAD_MESSAGE, f"expected a string of 1..{MAX_ID_LENGTH} characters, "
                            f"got {_show(value)}", field)


def _check_body(kind: str, body: dict) -> None:
    for key in body:
        if type(key) is not str:
            raise ProtocolError(errors.BAD_MESSAGE, f"body keys must be strings, got {_kind(key)}", "body")
    too_deep = _too_deep(body, MAX_NESTING)
    if too_deep is not None:
        raise ProtocolError(errors.INVALID_FIELD, f"maps and arrays nest more than {MAX_NESTING} levels deep "
                            f"here; expected at most {MAX_NESTING}", too_deep)
    for name, (types, required) in BODY_SCHEMAS[kind].items():
        if name not in body:
            if required:
                raise ProtocolError(errors.INVALID_FIELD, f"missing field {name!r} in a {kind!r} message", name)
            continue
        value = body[name]
        if type(value) not in types or (type(value) is float and not math.isfinite(value)):
            expected = " or ".join("nil" if t is type(None) else _TYPE_NAMES.get(t, t.__name__) for t in types)
            raise ProtocolError(errors.INVALID_FIELD, f"expected {expected}, got {_show(value)}", name)


def _too_deep(body: dict, limit: int) -> str | None:
    """The path of the first value nested deeper than `limit`, or None. Iterative (no recursion);
    paths are only spelled out for the failure, so a big polygon list costs one pass."""
    stack = [(value, 1, (None, key)) for key, value in body.items() if type(value) in (dict, list)]
    while stack:
        value, depth, where = stack.pop()
        if depth >= limit:
            return _path(where)
        children = value.items() if type(value) is dict else enumerate(value)
        stack.extend((child, depth + 1, (where, key)) for key, child in children if type(child) in (dict, list))
    return None


def _path(where) -> str:
    parts = []
    while where is not None:
        where, key = where
        parts.append(f"[{key}]" if type(key) is int else f".{key}")
    return "".join(reversed(parts)).lstrip(".")


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a finite number", bool: "a boolean",
               list: "an array", dict: "a map", bytes: "binary"}


def _kind(value) -> str:
    return {type(None): "nil", bool: "a boolean", int: "an integer", float: "a float", str: "a string",
            bytes: "binary", list: "an array", dict: "a map"}.get(type(value), type(value).__name__)


def _show(value) -> str:
    """`value` described for an error message, bounded in length."""
    if isinstance(value, (list, dict)):
        return f"{_kind(value)} of {len(value)} items"
    text = repr(value)
    return f"{_kind(value)} {text[:60] + '...' if len(text) > 60 else text}"
