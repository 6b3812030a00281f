"""Reading source clips (video files or frame folders) and their first-frame component masks.

Everything is returned as numpy arrays (RGB uint8 frames, bool masks) at the *source* size;
``fit_to_size`` then cuts and resizes frames and masks together so they stay aligned.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".exr"}


class ClipError(ValueError):
    """A clip (or its masks) cannot be used; the message names the file and what was expected."""


@dataclass(frozen=True)
class ClipSource:
    """One clip found in the input folder: its id (file/folder stem) and where it lives."""

    clip_id: str
    path: Path


def find_clips(input_dir: Path, exclude: tuple[Path, ...] = ()) -> list[ClipSource]:
    """Video files and frame folders directly inside ``input_dir``, sorted by name."""
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise ClipError(f"input: expected a folder of clips, got {input_dir}")
    excluded = {Path(p).resolve() for p in exclude}
    found = []
    for entry in sorted(input_dir.iterdir()):
        if entry.resolve() in excluded or entry.name.startswith("."):
            continue
        if entry.is_dir() and _image_files(entry):
            found.append(ClipSource(entry.name, entry))
        elif entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            found.append(ClipSource(entry.stem, entry))
    return found


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_rgb(path: Path) -> np.ndarray:
    """One image file as RGB uint8 (grey and alpha images are converted)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ClipError(f"{path}: cannot be read as an image")
    return np.ascontiguousarray(img[:, :, ::-1])


def read_frames(source: ClipSource, max_frames: int, stride: int = 1) -> np.ndarray:
    """The first ``max_frames`` frames (every ``stride``-th) as (L, H, W, 3) RGB uint8."""
    wanted = max_frames * stride
    frames: list[np.ndarray] = []
    if source.path.is_dir():
        for path in _image_files(source.path)[:wanted:stride]:
            frames.append(read_rgb(path))
    else:
        cap = cv2.VideoCapture(str(source.path))
        if not cap.isOpened():
            raise ClipError(f"{source.path}: OpenCV cannot open this video file")
        try:
            index = 0
            while index < wanted:
                ok, bgr = cap.read()
                if not ok:
                    break
                if index % stride == 0:
                    frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
                index += 1
        finally:
            cap.release()
    if len(frames) < max_frames:
        raise ClipError(f"{source.path}: too short: {len(frames)} frames, expected at least "
                        f"{max_frames} (stride {stride})")
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise ClipError(f"{source.path}: frames differ in size: {sorted(shapes)}")
    return np.stack(frames)


def find_masks(masks_dir: Path, clip_id: str) -> Path:
    """The mask source of a clip: ``<id>.png`` label image or ``<id>/`` folder of binary masks."""
    folder = Path(masks_dir) / clip_id
    if folder.is_dir():
        return folder
    for suffix in sorted(IMAGE_SUFFIXES):
        candidate = Path(masks_dir) / f"{clip_id}{suffix}"
        if candidate.is_file():
            return candidate
    raise ClipError(f"masks: no mask for clip {clip_id!r}: expected {masks_dir}/{clip_id}.png "
                    f"(label image) or {masks_dir}/{clip_id}/ (one binary mask per component)")


def read_component_masks(path: Path) -> list[np.ndarray]:
    """First-frame component masks as bool arrays, unsorted, empty ones left out.

    A label image holds one integer label per component (0 = background; colour label images
    are read per distinct colour). A folder holds one image per component, non-zero = inside.
    """
    path = Path(path)
    if path.is_dir():
        masks = []
        for file in _image_files(path):
            img = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise ClipError(f"{file}: cannot be read as a mask image")
            masks.append(img > 0)
    else:
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ClipError(f"{path}: cannot be read as a label image")
        if img.ndim == 3:
            img = img[:, :, :3]
            flat = img.reshape(-1, img.shape[2])
            colours, labels = np.unique(flat, axis=0, return_inverse=True)
            labels = labels.reshape(img.shape[:2])
            background = np.flatnonzero((colours == 0).all(axis=1))
            ids = [i for i in range(len(colours)) if i not in set(background.tolist())]
            masks = [labels == i for i in ids]
        else:
            masks = [img == v for v in np.unique(img) if v != 0]
    masks = [m for m in masks if m.any()]
    if not masks:
        raise ClipError(f"{path}: no component in the masks (all pixels are background)")
    shapes = {m.shape for m in masks}
    if len(shapes) != 1:
        raise ClipError(f"{path}: component masks differ in size: {sorted(shapes)}")
    return masks


def largest_components(masks: list[np.ndarray], limit: int) -> list[np.ndarray]:
    """At most ``limit`` masks, the largest first (ties keep their input order)."""
    order = sorted(range(len(masks)), key=lambda i: -int(masks[i].sum()))
    return [masks[i] for i in order[:limit]]


def cover_crop_box(src_w: int, src_h: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The centred source window (x, y, w, h) with the target aspect ratio (resize-to-cover)."""
    scale = max(width / src_w, height / src_h)
    crop_w = min(src_w, round(width / scale))
    crop_h = min(src_h, round(height / scale))
    return (src_w - crop_w) // 2, (src_h - crop_h) // 2, crop_w, crop_h


def fit_to_size(frames: np.ndarray, masks: list[np.ndarray], width: int, height: int
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Centre-crop to the target aspect, then resize frames (area/cubic) and masks (nearest)."""
    src_h, src_w = frames.shape[1:3]
    for m in masks:
        if m.shape != (src_h, src_w):
            raise ClipError(f"masks: size {m.shape[1]}x{m.shape[0]} does not match the clip's "
                            f"frames {src_w}x{src_h}")
    x, y, w, h = cover_crop_box(src_w, src_h, width, height)
    shrinking = w >= width
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    out = np.stack([cv2.resize(f[y:y + h, x:x + w], (width, height), interpolation=interp)
                    for f in frames])
    out_masks = [cv2.resize(m[y:y + h, x:x + w].astype(np.uint8), (width, height),
                            interpolation=cv2.INTER_NEAREST) > 0 for m in masks]
    return out, out_masks
