"""A take: the whole job exactly as it was sent, kept so it can be sent again byte for byte.

Blender-free. A :class:`TakeRecord` holds the job body (every parameter, the seed the add-on
fixed before sending, the backend), its payload frames (reference pixels and mask bitmaps), the
reference's content hash and where it came from, the editable sources the masks and arrows were
read from (so they can be restored), and what the server said about itself. ``to_text`` /
``from_text`` serialise it to one JSON string (payloads zlib-compressed, base64, each with its
SHA-256) that round-trips exactly; a damaged string is an error naming the field, never a take
that silently differs.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
import zlib
from dataclasses import asdict, dataclass, field

from ..protocol import sp

FORMAT = "trackgo-take/1"


class TakeError(ValueError):
    """A stored take cannot be read; the message names the field and what was expected."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


def fix_seed(body: dict, seed: int | None = None) -> int:
    """Give the job a seed before it is sent (the server would otherwise pick one and report it
    only in ``done``, so a cancelled take would have none). Returns the seed now in the body."""
    params = body.setdefault("params", {})
    if params.get("seed") is None:
        params["seed"] = int(seed) if seed is not None else secrets.randbelow(sp.messages.MAX_SEED + 1)
    return int(params["seed"])


@dataclass
class TakeRecord:
    body: dict                       # the job map as sent (params include the seed)
    payloads: list                   # list[bytes]: reference first, then bitmap masks
    reference_source: dict = field(default_factory=dict)   # {"image": name, "filepath": ..., "frame": n}
    sources: dict = field(default_factory=dict)  # editable masks/arrows/tracks they were read from
    tracks_meta: list = field(default_factory=list)
    server: dict = field(default_factory=dict)   # {"server": name, "protocol": [1, 1], "backend": ..., "model": ...}
    frame_start: int = 1

    @property
    def seed(self) -> int | None:
        return self.body.get("params", {}).get("seed")

    @property
    def backend(self) -> str:
        return self.body.get("params", {}).get("backend") or self.server.get("backend") or ""

    @property
    def reference_hash(self) -> str:
        return content_hash(self.payloads[0]) if self.payloads else ""

    def job(self) -> tuple[dict, list[bytes]]:
        """A fresh copy of (body, payloads) to send again."""
        return copy.deepcopy(self.body), [bytes(p) for p in self.payloads]


def _encode(data: bytes) -> dict:
    return {"sha256": content_hash(data), "size": len(data),
            "zlib_b64": base64.b64encode(zlib.compress(bytes(data), 6)).decode("ascii")}


_AHEAD: dict = {}   # id(payload) → (payload, its encoding), made by encode_ahead
AHEAD_KEPT = 32


def encode_ahead(payloads) -> None:
    """Encode a job's payloads in the worker thread that built it (zlib and SHA-256 of ~5 MB take
    ~100 ms), so recording its take on Blender's main thread only looks them up (issue 16)."""
    for p in payloads:
        _AHEAD[id(p)] = (p, _encode(p))
    while len(_AHEAD) > AHEAD_KEPT:
        _AHEAD.pop(next(iter(_AHEAD)))


def _encode_payload(data: bytes) -> dict:
    hit = _AHEAD.get(id(data))
    return hit[1] if hit is not None and hit[0] is data else _encode(data)


def _decode_payload(item, path: str) -> bytes:
    if not isinstance(item, dict) or not {"sha256", "size", "zlib_b64"} <= set(item):
        raise TakeError(f"{path}: expected a map with sha256, size and zlib_b64")
    try:
        data = zlib.decompress(base64.b64decode(item["zlib_b64"], validate=True))
    except (ValueError, zlib.error) as exc:
        raise TakeError(f"{path}: the stored bytes are damaged ({exc})") from None
    if len(data) != item["size"] or content_hash(data) != item["sha256"]:
        raise TakeError(f"{path}: the stored bytes do not match their SHA-256 (damaged take)")
    return data


_BYTES_KEY = "__bytes_b64__"


def _bytes_out(value):
    """Inline binary in the job map (a point track's ``visible``, protocol 1.1) as JSON."""
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: _bytes_out(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bytes_out(v) for v in value]
    return value


def _bytes_in(value, path: str):
    if isinstance(value, dict):
        if set(value) == {_BYTES_KEY}:
            try:
                return base64.b64decode(value[_BYTES_KEY], validate=True)
            except (TypeError, ValueError) as exc:
                raise TakeError(f"{path}: the stored bytes are damaged ({exc})") from None
        return {k: _bytes_in(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_bytes_in(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def to_text(record: TakeRecord) -> str:
    """One JSON string; floats keep their exact value (JSON repr round-trips Python floats), and
    binary values inside the job map (a point track's ``visible``) are kept as base64."""
    data = asdict(record)
    data["body"] = _bytes_out(record.body)
    data["payloads"] = [_encode_payload(p) for p in record.payloads]
    data["format"] = FORMAT
    data["reference_hash"] = record.reference_hash
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def from_text(text: str) -> TakeRecord:
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise TakeError(f"take: expected the JSON text of a take ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TakeError(f"take.format: expected {FORMAT!r}, got {data.get('format') if isinstance(data, dict) else data!r}")
    if not isinstance(data.get("body"), dict) or not isinstance(data.get("payloads"), list):
        raise TakeError("take.body / take.payloads: expected the job map and its payload list")
    payloads = [_decode_payload(p, f"take.payloads[{i}]") for i, p in enumerate(data["payloads"])]
    if payloads and data.get("reference_hash") != content_hash(payloads[0]):
        raise TakeError("take.reference_hash: does not match the stored reference pixels")
    return TakeRecord(body=_bytes_in(data["body"], "take.body"), payloads=payloads,
                      reference_source=data.get("reference_source") or {},
                      sources=data.get("sources") or {}, tracks_meta=data.get("tracks_meta") or [],
                      server=data.get("server") or {}, frame_start=int(data.get("frame_start", 1)))
