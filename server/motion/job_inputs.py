"""A validated ``shared_protocol.Job`` as pixels and paths at the output size, and the ``plan`` reply.

The job's coordinates are reference-image pixels (top-left origin, y down, pixel centres at
integers). Everything here maps them to the output size by independent x / y scales (the
reference is stretched to the output, as the model's pipeline does), so the backends and the
plan see the very same masks, arrows and sampled points.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .arrows import ArrowPath
from .errors import MotionInputError
from .masks import mask_from_polygons, resize_mask, scale_points
from .trajectories import Trajectories, trajectories_from_arrows


@dataclass(frozen=True)
class MotionInputs:
    """One job, decoded: everything at the output size (width x height)."""

    reference: np.ndarray        # (H, W, 3) uint8 RGB
    masks: list                  # per track (H, W) bool
    arrows: list                 # per track ArrowPath in output pixels (None: explicit point track)
    easings: list                # per track easing name
    fields: list                 # per track "tracks[i]" (for errors)
    frames: int
    tau: float
    width: int
    height: int
    reference_size: tuple        # (width, height) of the reference image
    explicit: list | None = None  # per track None or (positions (L, K, 2) output px, visible (L, K))
    progress: list | None = None  # per track explicit per-frame timing or None (protocol 1.1)
    rotate: list | None = None    # per track: turn along the arrow (protocol 1.1), None: none do
    edge_softness: list | None = None  # per track feather width in output px (protocol 1.1)


def _to_rgb8(image: np.ndarray, field: str) -> np.ndarray:
    """Decoded OpenCV image (BGR/BGRA/grey, 8 or 16 bit) -> uint8 RGB."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise MotionInputError(field, f"expected an 8- or 16-bit image, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[2] == 2:                                  # grey + alpha
        return cv2.cvtColor(np.ascontiguousarray(image[..., 0]), cv2.COLOR_GRAY2RGB)
    raise MotionInputError(field, f"expected 1 to 4 channels, got {image.shape[2]}")


def decode_reference(spec) -> np.ndarray:
    """The reference ``ImageSpec`` as (height, width, 3) uint8 RGB (alpha dropped)."""
    field = "reference.payload"
    if spec.format == "raw":
        data = np.frombuffer(spec.data, dtype=np.uint8)
        expected = spec.width * spec.height * spec.channels
        if data.size != expected:
            raise MotionInputError(field, f"raw buffer holds {data.size} bytes, expected {expected}")
        image = data.reshape(spec.height, spec.width, spec.channels)
        return np.ascontiguousarray(image[..., :3])
    image = cv2.imdecode(np.frombuffer(spec.data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise MotionInputError(field, "expected a decodable PNG")
    if image.shape[:2] != (spec.height, spec.width):
        raise MotionInputError(field, f"PNG is {image.shape[1]}x{image.shape[0]}, expected "
                                      f"{spec.width}x{spec.height}")
    return _to_rgb8(image, field)


def decode_mask(spec, width: int, height: int, field: str) -> np.ndarray:
    """A track's ``MaskSpec`` as a (height, width) bool mask at the output size."""
    if spec.kind == "polygons":
        sx, sy = width / spec.width, height / spec.height
        polys = [(np.asarray(p, dtype=np.float64) + 0.5) * (sx, sy) - 0.5 for p in spec.polygons]
        mask = mask_from_polygons(polys, height, width, f"{field}.polygons")
        if not mask.any():
            # A sliver thinner than a pixel: keep the pixel nearest its vertices' mean.
            centre = np.mean(np.concatenate(polys), axis=0)
            mask[int(np.clip(round(centre[1]), 0, height - 1)), int(np.clip(round(centre[0]), 0, width - 1))] = True
        return mask
    if spec.format == "raw":
        data = np.frombuffer(spec.data, dtype=np.uint8)
        if data.size != spec.width * spec.height:
            raise MotionInputError(f"{field}.payload", f"raw mask holds {data.size} bytes, expected "
                                                       f"{spec.width * spec.height}")
        full = data.reshape(spec.height, spec.width) > 0
    else:
        image = cv2.imdecode(np.frombuffer(spec.data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise MotionInputError(f"{field}.payload", "expected a decodable grayscale PNG")
        if image.ndim == 3:
            image = image.max(axis=2)
        full = image > 0
    if full.shape != (spec.height, spec.width):
        raise MotionInputError(f"{field}.payload", f"mask is {full.shape[1]}x{full.shape[0]}, expected "
                                                   f"{spec.width}x{spec.height}")
    if not full.any():
        raise MotionInputError(f"{field}.payload", "mask is empty: expected at least one nonzero pixel")
    return resize_mask(full, height, width)


def decode_point_tracks(spec, ref_size: tuple, out_size: tuple) -> tuple[np.ndarray, np.ndarray]:
    """A validated ``PointTracks`` as (L, K, 2) float64 output pixels and (L, K) bool visibility."""
    pts = np.frombuffer(spec.data, dtype="<f4").reshape(spec.count, spec.frames, 2).transpose(1, 0, 2)
    visible = (np.ones((spec.frames, spec.count), dtype=bool) if spec.visible is None else
               np.frombuffer(spec.visible, dtype=np.uint8).reshape(spec.count, spec.frames).T > 0)
    return scale_points(pts.astype(np.float64), ref_size, out_size), visible


def motion_inputs_for_job(job) -> MotionInputs:
    """Decode and scale a validated job to its output size (``job.params.width`` x ``height``)."""
    width, height = int(job.params.width), int(job.params.height)
    ref_size = (job.reference.width, job.reference.height)
    reference = decode_reference(job.reference)
    interp = cv2.INTER_AREA if width * height < ref_size[0] * ref_size[1] else cv2.INTER_LINEAR
    if (reference.shape[1], reference.shape[0]) != (width, height):
        reference = cv2.resize(reference, (width, height), interpolation=interp)
    masks, arrows, easings, fields, explicit = [], [], [], [], []
    for i, track in enumerate(job.tracks):
        field = f"tracks[{i}]"
        masks.append(decode_mask(track.mask, width, height, f"{field}.mask"))
        if getattr(track, "points", None) is not None:
            arrows.append(None)
            explicit.append(decode_point_tracks(track.points, ref_size, (width, height)))
        else:
            pts = scale_points(np.asarray(track.arrow.points, dtype=np.float64), ref_size, (width, height))
            arrows.append(ArrowPath(pts, f"{field}.arrow"))
            explicit.append(None)
        easings.append(track.easing)
        fields.append(field)
    progress = [getattr(track, "progress", None) for track in job.tracks]
    rotate = [bool(getattr(track, "rotate", False)) for track in job.tracks]
    # softness is drawn in reference pixels; the output is stretched, so scale by the mean stretch
    stretch = (width / ref_size[0] + height / ref_size[1]) / 2
    softness = [float(getattr(track, "edge_softness", 0.0)) * stretch for track in job.tracks]
    return MotionInputs(np.ascontiguousarray(reference), masks, arrows, easings, fields,
                        int(job.params.frames), float(job.params.tau), width, height, ref_size, explicit,
                        progress, rotate, softness)


def region_options(inputs: MotionInputs) -> dict:
    """The preview renderer's per-track options (``angles``, ``softness``) for a decoded job:
    per track the arrow's turn per frame (rotate on, arrow tracks only; explicit point tracks
    ignore it) or None, and the soft edge width in output pixels."""
    n = len(inputs.masks)
    rotate = inputs.rotate or [False] * n
    progress = inputs.progress or [None] * n
    angles = [arrow.turn_angles(inputs.frames, easing, prog) if on and arrow is not None else None
              for on, arrow, easing, prog in zip(rotate, inputs.arrows, inputs.easings, progress)]
    return {"angles": angles, "softness": list(inputs.edge_softness or [0.0] * n)}


def trajectories_for_job(job, seed: int, inputs: MotionInputs | None = None) -> Trajectories:
    """The job's point trajectories at the output size: what every backend moves / encodes."""
    inputs = inputs or motion_inputs_for_job(job)
    return trajectories_from_arrows(inputs.masks, inputs.arrows, inputs.easings, inputs.frames, seed,
                                    fields=inputs.fields, explicit=inputs.explicit, progress=inputs.progress)


def plan_for_job(job, seed: int | None = None) -> dict:
    """The ``plan_result`` body: per track the first-frame points and their per-frame positions.

    Coordinates are in the reference image's pixels (the space the job was drawn in), with
    ``width``/``height`` the reference size; ``output_width``/``output_height`` say where the
    points were sampled. ``seed`` defaults to the job's seed, else 0: a job submitted without a
    seed gets one from the server and may sample other points.
    """
    if seed is None:
        seed = job.params.seed if job.params.seed is not None else 0
    inputs = motion_inputs_for_job(job)
    traj = trajectories_for_job(job, seed, inputs)
    back = scale_points(traj.positions, (inputs.width, inputs.height), inputs.reference_size)
    tracks = []
    for j in range(len(job.tracks)):
        sel = traj.component == j
        positions = back[:, sel].round(3)
        entry = {"track": j, "points": positions[0].tolist(), "positions": positions.tolist()}
        arrow = getattr(job.tracks[j], "arrow", None)
        if arrow is not None:   # 1.1: where the overlay puts the per-frame ticks (on the arrow)
            entry["arrow"] = [[float(x), float(y)] for x, y in arrow.points]
        if not traj.visible[:, sel].all():
            entry["visible"] = traj.visible[:, sel].tolist()
        tracks.append(entry)
    return {"tracks": tracks, "frames": inputs.frames, "width": inputs.reference_size[0],
            "height": inputs.reference_size[1], "output_width": inputs.width, "output_height": inputs.height,
            "seed": int(seed)}
