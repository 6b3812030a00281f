"""Job body -> checked, immutable `Job` with every default filled.

Both sides use it: the server before queueing (and for `plan`), the add-on before
sending. Every rejection is a ProtocolError whose `field` is the path of the value
at fault (``tracks[1].arrow.points[0]``) and whose message says what was expected.
"""

import logging
import math
import sys
from array import array
from dataclasses import asdict, dataclass

from . import errors
from .errors import ProtocolError
from .images import ImageError, expected_raw_size, png_is_blank, raw_is_blank, read_png_info
from .limits import Limits
from .messages import (COORDINATE_BOUND, DEFAULT_EASING, DEFAULT_PARAMS, EASINGS, IMAGE_FORMATS, MASK_KINDS,
                       NULLABLE_PARAMS, PARAM_RANGES, POINT_TRACK_FORMATS, POINT_TRACK_MARGIN, SIZE_MULTIPLE)

MAX_NAME_LENGTH = 256
MAX_BACKEND_LENGTH = 64
RAW_REFERENCE_CHANNELS = (3, 4)
MASK_PNG_BIT_DEPTHS = (1, 8)

Point = tuple[float, float]


@dataclass(frozen=True)
class ImageSpec:
    """The reference frame: its payload bytes and how to read them."""

    payload: int
    format: str                  # "png" | "raw"
    width: int
    height: int
    channels: int                # raw: 3 or 4; png: channels of its colour type
    data: bytes


@dataclass(frozen=True)
class MaskSpec:
    """One track's mask: a bitmap payload (nonzero = inside) or polygons in reference pixels."""

    kind: str                    # "bitmap" | "polygons"
    width: int                   # == reference size
    height: int
    payload: int | None = None   # bitmap only
    format: str | None = None    # bitmap only: "png" (8-bit or 1-bit grayscale) | "raw" (1 byte/pixel)
    data: bytes | None = None    # bitmap only: the payload bytes
    polygons: tuple[tuple[Point, ...], ...] = ()  # polygons only


@dataclass(frozen=True)
class Arrow:
    """A polyline in reference pixels, top-left origin, y down; the first point is the tail."""

    points: tuple[Point, ...]


@dataclass(frozen=True)
class PointTracks:
    """Explicit trajectories (protocol 1.1): `count` points x `frames` frames x (x, y), given as is.

    `data` is the payload: little-endian float32 in (point, frame, xy) order, reference pixels.
    `visible` is `count * frames` bytes in (point, frame) order, nonzero = visible, or None (all).
    """

    payload: int
    count: int
    frames: int
    data: bytes
    visible: bytes | None = None


MAX_EDGE_SOFTNESS = 64   # px: the widest soft edge a track may ask for (protocol 1.1)


@dataclass(frozen=True)
class Track:
    """One moving component: where it is (mask), where it goes (an arrow, or explicit point
    tracks from protocol 1.1 on; exactly one of the two), how an arrow is timed."""

    mask: MaskSpec
    arrow: Arrow | None
    easing: str = DEFAULT_EASING
    name: str | None = None
    points: PointTracks | None = None
    progress: tuple[float, ...] | None = None   # 1.1: share of the arrow covered, one per frame
    rotate: bool = False           # 1.1: the region turns with the arrow's direction
    edge_softness: float = 0.0     # 1.1: feather width in reference px inside the region's edge


@dataclass(frozen=True)
class GenerationParams:
    """Every generation parameter, defaults filled (see messages.DEFAULT_PARAMS)."""

    backend: str | None = DEFAULT_PARAMS["backend"]
    frames: int = DEFAULT_PARAMS["frames"]
    fps: int = DEFAULT_PARAMS["fps"]
    motion_bucket_id: int = DEFAULT_PARAMS["motion_bucket_id"]
    noise_aug_strength: float = DEFAULT_PARAMS["noise_aug_strength"]
    num_inference_steps: int = DEFAULT_PARAMS["num_inference_steps"]
    min_guidance_scale: float = DEFAULT_PARAMS["min_guidance_scale"]
    max_guidance_scale: float = DEFAULT_PARAMS["max_guidance_scale"]
    seed: int | None = DEFAULT_PARAMS["seed"]
    tau: float = DEFAULT_PARAMS["tau"]
    alpha: float = DEFAULT_PARAMS["alpha"]
    width: int = DEFAULT_PARAMS["width"]
    height: int = DEFAULT_PARAMS["height"]
    decode_chunk_size: int | None = DEFAULT_PARAMS["decode_chunk_size"]
    dual_clock_weak: float = DEFAULT_PARAMS["dual_clock_weak"]
    dual_clock_strong: float = DEFAULT_PARAMS["dual_clock_strong"]
    background_follow: float = DEFAULT_PARAMS["background_follow"]

    def to_body(self) -> dict:
        """A plain map, e.g. for `done.params` (after the server filled backend and seed)."""
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """A checked job: the reference image, 1..max_tracks tracks, the generation parameters."""

    reference: ImageSpec
    tracks: tuple[Track, ...]
    params: GenerationParams


def validate_job(body, payloads, limits: Limits = Limits(), backends: set[str] | None = None) -> Job:
    """Check a `submit` / `plan` body against its payload frames and the receiver's limits.

    `backends`: names the receiver knows; None skips the backend-name check.
    Raises ProtocolError (invalid_field or too_large) naming the field path, and nothing else.
    """
    try:
        return _validate_job(body, payloads, limits, backends)
    except ProtocolError:
        raise
    except RecursionError:  # a hand-built body nested deeper than decode() would have let through
        raise ProtocolError(errors.INVALID_FIELD, "the job's maps and arrays nest too deeply; "
                            "expected the shapes of docs/protocol.md section 6") from None
    except Exception:  # safety net: a bug here must not take the receiver down, nor show its internals
        logging.getLogger("trackgo.protocol").exception("job validation failed unexpectedly")
        raise ProtocolError(errors.INTERNAL, "the receiver failed to check this job (a bug on its side)",
                            hint="the receiver's log has details") from None


def _validate_job(body, payloads, limits: Limits, backends: set[str] | None) -> Job:
    if type(body) is not dict:
        raise _invalid("", "a map (the job)", body)
    payloads = list(payloads)
    reference = _reference(_get(body, "reference", "", dict), payloads, limits)
    tracks_value = _get(body, "tracks", "", list)
    if not tracks_value:
        raise ProtocolError(errors.INVALID_FIELD, "expected at least one track, got an empty array", "tracks")
    if len(tracks_value) > limits.max_tracks:
        raise ProtocolError(errors.TOO_LARGE, f"expected at most {limits.max_tracks} tracks, got {len(tracks_value)}",
                            "tracks")
    params_value = body.get("params")
    if params_value is None:
        params_value = {}
    params = _params(params_value, limits, backends)
    tracks = tuple(_track(value, f"tracks[{index}]", reference, payloads, limits, params.frames)
                   for index, value in enumerate(tracks_value))
    return Job(reference=reference, tracks=tracks, params=params)


# ---- reference and masks --------------------------------------------------------------

def _reference(value: dict, payloads: list, limits: Limits) -> ImageSpec:
    path = "reference"
    index, fmt, width, height, data = _image_common(value, path, payloads, limits)
    if fmt == "raw":
        channels = _get(value, "channels", path, int)
        if channels not in RAW_REFERENCE_CHANNELS:
            raise _invalid(f"{path}.channels", "3 (RGB) or 4 (RGBA)", channels)
        _check_raw_size(data, width, height, channels, f"{path}.payload")
    else:
        info = _png_info(data, f"{path}.payload")
        _check_png_size(info, width, height, f"{path}.payload")
        channels = info.channels
    return ImageSpec(payload=index, format=fmt, width=width, height=height, channels=channels, data=data)


def _image_common(value: dict, path: str, payloads: list, limits: Limits):
    index = _get(value, "payload", path, int)
    if not 0 <= index < len(payloads):
        raise ProtocolError(errors.INVALID_FIELD, f"expected a payload index 0..{len(payloads) - 1}, got {index} "
                            f"({len(payloads)} payload frames)", f"{path}.payload")
    fmt = _get(value, "format", path, str)
    if fmt not in IMAGE_FORMATS:
        raise _invalid(f"{path}.format", "'png' or 'raw'", fmt)
    width = _get(value, "width", path, int)
    height = _get(value, "height", path, int)
    for name, size in (("width", width), ("height", height)):
        if size < 1:
            raise _invalid(f"{path}.{name}", "a positive integer", size)
    if width * height > limits.max_reference_pixels:
        raise ProtocolError(errors.TOO_LARGE, f"expected at most {limits.max_reference_pixels} pixels, got "
                            f"{width}x{height} = {width * height}", f"{path}.width")
    data = payloads[index]
    if not isinstance(data, bytes):
        data = bytes(data)
    return index, fmt, width, height, data


def _mask(value: dict, path: str, reference: ImageSpec, payloads: list, limits: Limits) -> MaskSpec:
    kind = _get(value, "kind", path, str)
    if kind not in MASK_KINDS:
        raise _invalid(f"{path}.kind", "'bitmap' or 'polygons'", kind)
    if kind == "polygons":
        polygons = _polygons(_get(value, "polygons", path, list), f"{path}.polygons", reference, limits)
        return MaskSpec(kind=kind, width=reference.width, height=reference.height, polygons=polygons)
    index, fmt, width, height, data = _image_common(value, path, payloads, limits)
    if (width, height) != (reference.width, reference.height):
        raise ProtocolError(errors.INVALID_FIELD, f"mask is {width}x{height}, expected the reference size "
                            f"{reference.width}x{reference.height}", f"{path}.width")
    if fmt == "raw":
        _check_raw_size(data, width, height, 1, f"{path}.payload")
        blank = raw_is_blank(data)
    else:
        info = _png_info(data, f"{path}.payload")
        _check_png_size(info, width, height, f"{path}.payload")
        if info.color_type != 0 or info.bit_depth not in MASK_PNG_BIT_DEPTHS or info.interlace:
            raise ProtocolError(errors.INVALID_FIELD, "expected a non-interlaced 8-bit or 1-bit grayscale PNG, got "
                                f"colour type {info.color_type}, bit depth {info.bit_depth}, "
                                f"interlace {info.interlace}", f"{path}.payload")
        try:
            blank = png_is_blank(data, info)
        except ImageError as exc:
            raise ProtocolError(errors.INVALID_FIELD, f"expected a valid PNG, got one with a defect: {exc}",
                                f"{path}.payload") from None
    if blank:
        raise ProtocolError(errors.INVALID_FIELD, "mask is empty: expected at least one nonzero pixel",
                            f"{path}.payload")
    return MaskSpec(kind=kind, width=width, height=height, payload=index, format=fmt, data=data)


def _polygons(value: list, path: str, reference: ImageSpec, limits: Limits) -> tuple:
    if not value:
        raise ProtocolError(errors.INVALID_FIELD, "expected at least one polygon, got an empty array", path)
    if len(value) > limits.max_polygons:
        raise ProtocolError(errors.TOO_LARGE, f"expected at most {limits.max_polygons} polygons, got {len(value)}",
                            path)
    polygons = tuple(_points(poly, f"{path}[{index}]", 3, limits) for index, poly in enumerate(value))
    if not any(_area(poly) > 0 and _touches_image(poly, reference) for poly in polygons):
        raise ProtocolError(errors.INVALID_FIELD, "polygons enclose no area inside the reference image: expected at "
                            f"least one polygon with nonzero area overlapping 0..{reference.width} x "
                            f"0..{reference.height}", path)
    return polygons


def _area(points: tuple) -> float:
    twice = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]))
    return abs(twice) / 2


def _touches_image(points: tuple, reference: ImageSpec) -> bool:
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    return max(xs) > 0 and min(xs) < reference.width and max(ys) > 0 and min(ys) < reference.height


def _png_info(data: bytes, path: str):
    try:
        return read_png_info(data)
    except ImageError as exc:
        raise ProtocolError(errors.INVALID_FIELD, f"expected a valid PNG, got one with a defect: {exc}", path) from None


def _check_png_size(info, width: int, height: int, path: str) -> None:
    if (info.width, info.height) != (width, height):
        raise ProtocolError(errors.INVALID_FIELD, f"expected a PNG of the declared size {width}x{height}, got a "
                            f"{info.width}x{info.height} PNG", path)


def _check_raw_size(data: bytes, width: int, height: int, channels: int, path: str) -> None:
    expected = expected_raw_size(width, height, channels)
    if len(data) != expected:
        raise ProtocolError(errors.INVALID_FIELD, f"raw buffer holds {len(data)} bytes, expected "
                            f"{width}x{height}x{channels} = {expected}", path)


# ---- tracks and arrows ------------------------------------------------------------------

def _track(value, path: str, reference: ImageSpec, payloads: list, limits: Limits, frames: int) -> Track:
    if type(value) is not dict:
        raise _invalid(path, "a map (a track)", value)
    mask = _mask(_get(value, "mask", path, dict), f"{path}.mask", reference, payloads, limits)
    arrow, point_tracks = None, None
    if value.get("points") is not None:
        if value.get("arrow") is not None:
            raise ProtocolError(errors.INVALID_FIELD, "expected either 'arrow' or 'points', got both", path)
        point_tracks = _point_tracks(_get(value, "points", path, dict), f"{path}.points", reference, payloads,
                                     limits, frames)
    else:
        arrow_value = _get(value, "arrow", path, dict)
        points = _points(_get(arrow_value, "points", f"{path}.arrow", list), f"{path}.arrow.points", 2, limits)
        if all(point == points[0] for point in points):
            raise ProtocolError(errors.INVALID_FIELD, f"arrow is degenerate: all {len(points)} points are "
                                f"{list(points[0])}, expected at least two distinct points", f"{path}.arrow.points")
        arrow = Arrow(points=points)
    easing = value.get("easing")
    if easing is None:
        easing = DEFAULT_EASING
    elif easing not in EASINGS:
        raise _invalid(f"{path}.easing", "one of " + ", ".join(repr(e) for e in EASINGS), easing)
    name = value.get("name")
    if name is not None and (type(name) is not str or len(name) > MAX_NAME_LENGTH):
        raise _invalid(f"{path}.name", f"a string of at most {MAX_NAME_LENGTH} characters or nil", name)
    progress = _progress(value.get("progress"), f"{path}.progress")
    if progress is not None and len(progress) != frames:
        raise ProtocolError(errors.INVALID_FIELD, f"expected one progress value per frame ({frames}, "
                            f"params.frames), got {len(progress)}", f"{path}.progress")
    rotate = value.get("rotate")
    rotate = False if rotate is None else rotate
    if type(rotate) is not bool:
        raise _invalid(f"{path}.rotate", "true or false (turn the region along the arrow) or nil", rotate)
    softness = value.get("edge_softness")
    softness = 0.0 if softness is None else softness
    if (type(softness) not in (int, float) or not math.isfinite(softness)
            or not 0.0 <= softness <= MAX_EDGE_SOFTNESS):
        raise _invalid(f"{path}.edge_softness", f"a number of pixels from 0 to {MAX_EDGE_SOFTNESS}", softness)
    return Track(mask=mask, arrow=arrow, easing=easing, name=name, points=point_tracks, progress=progress,
                 rotate=rotate, edge_softness=float(softness))


def _point_tracks(value: dict, path: str, reference: ImageSpec, payloads: list, limits: Limits,
                  frames: int) -> PointTracks:
    """`{payload, format: "f32", count: N, frames: L, visible: bin?}`: N x L x 2 float32 positions."""
    fmt = value.get("format")
    if fmt is None:   # absent or nil: the default (protocol.md section 2)
        fmt = POINT_TRACK_FORMATS[0]
    if fmt not in POINT_TRACK_FORMATS:
        raise _invalid(f"{path}.format", "'f32' (little-endian float32) or nil", fmt)
    count = _get(value, "count", path, int)
    if count < 1:
        raise _invalid(f"{path}.count", "a positive point count", count)
    if count > limits.max_track_points:
        raise ProtocolError(errors.TOO_LARGE, f"expected at most {limits.max_track_points} points, got {count}",
                            f"{path}.count")
    length = _get(value, "frames", path, int)
    if length != frames:
        raise ProtocolError(errors.INVALID_FIELD, f"expected one position per output frame ({frames}, "
                            f"params.frames), got {length}", f"{path}.frames")
    index = _get(value, "payload", path, int)
    if not 0 <= index < len(payloads):
        raise ProtocolError(errors.INVALID_FIELD, f"expected a payload index 0..{len(payloads) - 1}, got {index} "
                            f"({len(payloads)} payload frames)", f"{path}.payload")
    data = payloads[index]
    if not isinstance(data, bytes):
        data = bytes(data)
    expected = count * length * 2 * 4
    if len(data) != expected:
        raise ProtocolError(errors.INVALID_FIELD, f"positions hold {len(data)} bytes, expected {count} points x "
                            f"{length} frames x 2 float32 = {expected}", f"{path}.payload")
    coords = array("f", data)
    if sys.byteorder != "little":
        coords.byteswap()
    margin_x, margin_y = POINT_TRACK_MARGIN * reference.width, POINT_TRACK_MARGIN * reference.height
    low_x, high_x = -margin_x, reference.width + margin_x
    low_y, high_y = -margin_y, reference.height + margin_y
    xs, ys = coords[0::2], coords[1::2]
    # fast path in C: a NaN or infinity makes the sum non-finite; then min/max bound the rest
    if (math.isfinite(sum(coords)) and low_x <= min(xs) and max(xs) <= high_x
            and low_y <= min(ys) and max(ys) <= high_y):
        return _point_tracks_checked(value, path, index, count, length, data)
    for i in range(0, len(coords), 2):
        x, y = coords[i], coords[i + 1]
        if not (low_x <= x <= high_x and low_y <= y <= high_y):   # also false for nan
            point, frame = divmod(i // 2, length)
            raise ProtocolError(errors.INVALID_FIELD, f"point {point} at frame {frame} is ({x!r}, {y!r}): expected "
                                f"finite pixels within {low_x:g}..{high_x:g} x {low_y:g}..{high_y:g} (the image "
                                f"and a margin of {POINT_TRACK_MARGIN:g} of its size)", f"{path}.payload")
    return _point_tracks_checked(value, path, index, count, length, data)


def _point_tracks_checked(value: dict, path: str, index: int, count: int, length: int, data: bytes) -> PointTracks:
    visible = value.get("visible")
    if visible is not None:
        if type(visible) is not bytes or len(visible) != count * length:
            raise _invalid(f"{path}.visible", f"binary of {count} x {length} = {count * length} bytes "
                           "(nonzero = visible) or nil", visible)
    return PointTracks(payload=index, count=count, frames=length, data=data, visible=visible)


def _progress(value, path: str) -> tuple[float, ...] | None:
    """1.1 per-track timing: nil, or an array of finite numbers in [0, 1] (the caller checks its
    length against params.frames)."""
    if value is None:
        return None
    if type(value) is not list or not value:
        raise _invalid(path, "an array of numbers in [0, 1], one per frame", value)
    out = []
    for index, item in enumerate(value):
        if type(item) not in (int, float) or not math.isfinite(item) or not 0.0 <= item <= 1.0:
            raise _invalid(f"{path}[{index}]", "a finite number in [0, 1] (share of the arrow covered)", item)
        out.append(float(item))
    return tuple(out)


def _points(value, path: str, minimum: int, limits: Limits) -> tuple:
    if type(value) is not list:
        raise _invalid(path, f"an array of at least {minimum} [x, y] points", value)
    if len(value) < minimum:
        raise ProtocolError(errors.INVALID_FIELD, f"expected at least {minimum} [x, y] points, got {len(value)}", path)
    if len(value) > limits.max_points:
        raise ProtocolError(errors.TOO_LARGE, f"expected at most {limits.max_points} points, got {len(value)}", path)
    points = []
    for index, point in enumerate(value):
        if (type(point) is not list or len(point) != 2
                or not all(type(c) in (int, float) and abs(c) <= COORDINATE_BOUND for c in point)):
            raise _invalid(f"{path}[{index}]", f"[x, y]: two finite numbers with |value| <= {COORDINATE_BOUND:g}",
                           point)
        points.append((float(point[0]), float(point[1])))
    return tuple(points)


# ---- generation parameters -----------------------------------------------------------------

def _params(value, limits: Limits, backends: set[str] | None) -> GenerationParams:
    if type(value) is not dict:
        raise _invalid("params", "a map or nil", value)
    chosen = {}
    for name, default in DEFAULT_PARAMS.items():
        raw = value.get(name)
        if raw is None:
            chosen[name] = default
            continue
        if name == "backend":
            if type(raw) is not str or not 1 <= len(raw) <= MAX_BACKEND_LENGTH:
                raise _invalid("params.backend", f"a backend name (1..{MAX_BACKEND_LENGTH} characters) or nil", raw)
            if backends is not None and raw not in backends:
                raise ProtocolError(errors.INVALID_FIELD, f"unknown backend {raw!r}, expected one of "
                                    f"{sorted(backends)}", "params.backend")
            chosen[name] = raw
            continue
        chosen[name] = _number(raw, name)
    if chosen["min_guidance_scale"] > chosen["max_guidance_scale"]:
        raise ProtocolError(errors.INVALID_FIELD, f"min_guidance_scale {chosen['min_guidance_scale']} is above "
                            f"max_guidance_scale {chosen['max_guidance_scale']}; expected min <= max",
                            "params.min_guidance_scale")
    if chosen["dual_clock_weak"] >= chosen["dual_clock_strong"]:
        field = "dual_clock_strong" if "dual_clock_strong" in value else "dual_clock_weak"
        raise ProtocolError(errors.INVALID_FIELD, f"dual_clock_weak {chosen['dual_clock_weak']} is not below "
                            f"dual_clock_strong {chosen['dual_clock_strong']}; expected 0 <= weak < strong <= 1 "
                            "(the background starts before the painted regions are released)", f"params.{field}")
    if chosen["frames"] > limits.max_frames:
        raise ProtocolError(errors.TOO_LARGE, f"expected at most {limits.max_frames} frames, got {chosen['frames']}",
                            "params.frames")
    for name, maximum in (("width", limits.max_width), ("height", limits.max_height)):
        if chosen[name] % SIZE_MULTIPLE:
            raise ProtocolError(errors.INVALID_FIELD, f"expected a multiple of {SIZE_MULTIPLE}, got {chosen[name]}",
                                f"params.{name}")
        if chosen[name] > maximum:
            raise ProtocolError(errors.TOO_LARGE, f"expected at most {maximum}, got {chosen[name]}", f"params.{name}")
    pixels = chosen["width"] * chosen["height"]
    if pixels > limits.max_pixels:
        raise ProtocolError(errors.TOO_LARGE, f"expected an output of at most {limits.max_pixels} pixels, "
                            f"got {chosen['width']}x{chosen['height']} = {pixels}", "params.width")
    return GenerationParams(**chosen)


def _number(raw, name: str):
    kind, low, high, low_inclusive, high_inclusive = PARAM_RANGES[name]
    path = f"params.{name}"
    nullable = " or nil" if name in NULLABLE_PARAMS else ""
    if kind == "int":
        if type(raw) is not int:
            raise _invalid(path, "an integer" + nullable, raw)
    elif type(raw) not in (int, float) or (type(raw) is float and not math.isfinite(raw)):
        raise _invalid(path, "a finite number" + nullable, raw)
    value = raw
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        span = f"{left}{_fmt(low)}, {_fmt(high) if high is not None else 'inf'}{right}"
        raise ProtocolError(errors.INVALID_FIELD, f"expected a value in {span}, got {_short(repr(raw))}", path)
    return float(value) if kind == "float" else value


def _fmt(number) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


# ---- helpers ---------------------------------------------------------------------------------

_TYPE_WORDS = {dict: "a map", list: "an array", str: "a string", int: "an integer"}


def _get(container: dict, key: str, path: str, kind: type):
    field = f"{path}.{key}" if path else key
    if key not in container or container[key] is None:
        raise ProtocolError(errors.INVALID_FIELD, f"missing field {key!r}: expected {_TYPE_WORDS[kind]}", field)
    value = container[key]
    if type(value) is not kind:
        raise _invalid(field, _TYPE_WORDS[kind], value)
    return value


def _invalid(field: str, expected: str, got) -> ProtocolError:
    return ProtocolError(errors.INVALID_FIELD, f"expected {expected}, got {_describe(got)}", field or None)


def _describe(value) -> str:
    names = {type(None): "nil", bool: "boolean", int: "integer", float: "number", str: "string", bytes: "binary",
             list: "array", dict: "map"}
    kind = names.get(type(value), type(value).__name__)
    if isinstance(value, (list, dict)):
        return f"{kind} of {len(value)} items" if len(value) > 8 else f"{kind} {_short(repr(value))}"
    return f"{kind} {_short(repr(value))}"


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
