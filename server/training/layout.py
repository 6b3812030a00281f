"""The prepared dataset's on-disk format, written by ``prepare`` and read by ``dataset``.

```
<dataset>/manifest.json            index of finished clips + skipped clips with reasons
<dataset>/clips/<id>/frames/0000.png ...   RGB frames at the training size
<dataset>/clips/<id>/masks/0.png ...       first-frame component masks (0/255), largest first
<dataset>/clips/<id>/tracks.npz    positions (L, N, 2) float32 xy, visible (L, N) bool,
                                   component (N,) int16 (index into masks/)
<dataset>/clips/<id>/clip.json     metadata; written last, so its presence means "complete"
```
A clip is built in ``clips/.<id>.partial`` and renamed into place in one step, so a crash never
leaves a half-written clip that looks whole. See docs/training.md.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FORMAT_NAME = "trackgo-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CLIP_META = "clip.json"
TRACKS = "tracks.npz"


class DatasetFormatError(ValueError):
    """A dataset folder or clip does not follow the documented format."""


def clip_dir(root: Path, clip_id: str) -> Path:
    return Path(root) / "clips" / clip_id


def is_complete(root: Path, clip_id: str) -> bool:
    return (clip_dir(root, clip_id) / CLIP_META).is_file()


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON next to ``path`` then rename: readers never see a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_png(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"{path}: OpenCV could not write the PNG")


def write_clip(root: Path, clip_id: str, frames: np.ndarray, masks: list[np.ndarray],
               positions: np.ndarray, visible: np.ndarray, component: np.ndarray,
               meta: dict) -> Path:
    """Write one finished clip atomically (build in a hidden folder, then rename)."""
    final = clip_dir(root, clip_id)
    partial = final.parent / f".{clip_id}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "frames").mkdir(parents=True)
    (partial / "masks").mkdir()
    for i, frame in enumerate(frames):
        _write_png(partial / "frames" / f"{i:04d}.png", np.ascontiguousarray(frame[:, :, ::-1]))
    for j, mask in enumerate(masks):
        _write_png(partial / "masks" / f"{j}.png", mask.astype(np.uint8) * 255)
    np.savez_compressed(partial / TRACKS, positions=positions.astype(np.float32),
                        visible=visible.astype(bool), component=component.astype(np.int16))
    write_json_atomic(partial / CLIP_META, dict(meta, id=clip_id, format=FORMAT_NAME,
                                                version=FORMAT_VERSION))
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


@dataclass(frozen=True)
class ClipRecord:
    """One prepared clip read back from disk (frames are loaded lazily by ``dataset``)."""

    clip_id: str
    folder: Path
    meta: dict

    def frame_paths(self) -> list[Path]:
        return sorted((self.folder / "frames").glob("*.png"))

    def read_frames(self) -> np.ndarray:
        frames = []
        for path in self.frame_paths():
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DatasetFormatError(f"{path}: unreadable frame")
            frames.append(bgr[:, :, ::-1])
        if not frames:
            raise DatasetFormatError(f"{self.folder}/frames: no PNG frames")
        return np.ascontiguousarray(np.stack(frames))

    def read_masks(self) -> list[np.ndarray]:
        try:
            paths = sorted((self.folder / "masks").glob("*.png"), key=lambda p: int(p.stem))
        except ValueError as exc:
            raise DatasetFormatError(f"{self.folder}/masks: expected <j>.png files ({exc})") from exc
        masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths]
        for path, mask in zip(paths, masks):
            if mask is None:
                raise DatasetFormatError(f"{path}: unreadable mask")
        if not masks:
            raise DatasetFormatError(f"{self.folder}/masks: no PNG masks")
        return [m > 0 for m in masks]

    def read_tracks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        path = self.folder / TRACKS
        try:
            with np.load(path) as data:
                return data["positions"], data["visible"], data["component"]
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetFormatError(f"{path}: expected positions/visible/component arrays "
                                     f"({exc})") from exc


def read_manifest(root: Path) -> dict:
    path = Path(root) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetFormatError(f"{path}: not found: is {root} a folder made by "
                                 "trackgo-prepare?") from exc
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(f"{path}: invalid JSON ({exc})") from exc
    if manifest.get("format") != FORMAT_NAME:
        raise DatasetFormatError(f"{path}: format: expected {FORMAT_NAME!r}, "
                                 f"got {manifest.get('format')!r}")
    return manifest


def list_clips(root: Path) -> list[ClipRecord]:
    """The manifest's clips, in manifest order (sorted by id), each checked to be complete."""
    manifest = read_manifest(root)
    records = []
    for entry in manifest.get("clips", []):
        folder = clip_dir(root, entry["id"])
        meta_path = folder / CLIP_META
        if not meta_path.is_file():
            raise DatasetFormatError(f"{meta_path}: missing: clip {entry['id']!r} is listed in "
                                     "the manifest but incomplete")
        records.append(ClipRecord(entry["id"], folder,
                                  json.loads(meta_path.read_text(encoding="utf-8"))))
    return records
