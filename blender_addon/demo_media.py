"""Demo helper run with the *server* environment's Python (it has OpenCV and scikit-image).

    python demo_media.py photo OUT.png            the demo photograph (scikit-image's astronaut)
    python demo_media.py video FRAMES_DIR FPS OUT.mp4   the frames as MP4 (when Blender has no FFmpeg)
    python demo_media.py sheet REF.png PLAN.json FRAMES_DIR OUT.png
                                                  contact sheet: the reference with the planned
                                                  trajectories drawn over it, then every frame
Kept out of the Blender side on purpose: Blender has no OpenCV, and nothing here is add-on code.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

PALETTE_RGB = [(230, 25, 25), (25, 178, 25), (38, 89, 242), (242, 204, 25), (217, 38, 217), (25, 204, 217)]
TILE = 256


def photo(out: str) -> None:
    from skimage import data
    rgb = data.astronaut()  # public domain NASA portrait, 512x512
    if not cv2.imwrite(out, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f"photo: could not write {out}")


def video(frames_dir: str, fps: str, out: str) -> None:
    frames = sorted(Path(frames_dir).glob("[0-9][0-9][0-9][0-9].png"))
    if not frames:
        raise SystemExit(f"video: no frames in {frames_dir}")
    first = cv2.imread(str(frames[0]), cv2.IMREAD_COLOR)
    tmp = out + ".part.mp4"
    vw = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (first.shape[1], first.shape[0]))
    if not vw.isOpened():
        raise SystemExit(f"video: OpenCV cannot write {out}")
    for f in frames:
        vw.write(cv2.imread(str(f), cv2.IMREAD_COLOR))
    vw.release()
    Path(tmp).replace(out)


def _label(img: np.ndarray, text: str) -> None:
    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)


def overlay(reference_bgr: np.ndarray, plan: dict) -> np.ndarray:
    """Every planned point's path (thin) and start (dot), coloured per track."""
    img = reference_bgr.copy()
    for i, track in enumerate(plan["tracks"]):
        r, g, b = PALETTE_RGB[int(track.get("track", i)) % len(PALETTE_RGB)]
        color = (b, g, r)
        pos = np.asarray(track["positions"], dtype=np.float32)  # (frames, points, 2)
        for p in range(pos.shape[1]):
            cv2.polylines(img, [np.rint(pos[:, p]).astype(np.int32)], False, color, 1, cv2.LINE_AA)
        for x, y in pos[0]:
            cv2.circle(img, (int(round(x)), int(round(y))), 3, color, -1, cv2.LINE_AA)
        for x, y in pos[-1]:
            cv2.circle(img, (int(round(x)), int(round(y))), 2, (255, 255, 255), -1, cv2.LINE_AA)
    return img


def sheet(reference: str, plan_json: str, frames_dir: str, out: str) -> None:
    ref = cv2.imread(reference, cv2.IMREAD_COLOR)
    if ref is None:
        raise SystemExit(f"sheet: cannot read the reference {reference}")
    plan = json.loads(Path(plan_json).read_text())
    frames = sorted(Path(frames_dir).glob("[0-9][0-9][0-9][0-9].png"))
    if not frames:
        raise SystemExit(f"sheet: no frames in {frames_dir}")
    tiles = [(overlay(ref, plan), "reference + trajectories")]
    for f in frames:
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        tiles.append((img, f"frame {int(f.stem)}"))
    h0, w0 = tiles[0][0].shape[:2]
    th = int(round(TILE * h0 / w0))
    cols = min(5, len(tiles))
    rows = (len(tiles) + cols - 1) // cols
    canvas = np.full((rows * th, cols * TILE, 3), 32, np.uint8)
    for k, (img, text) in enumerate(tiles):
        small = cv2.resize(img, (TILE, th), interpolation=cv2.INTER_AREA)
        _label(small, text)
        r, c = divmod(k, cols)
        canvas[r * th:(r + 1) * th, c * TILE:(c + 1) * TILE] = small
    tmp = out + ".part.png"
    if not cv2.imwrite(tmp, canvas):
        raise SystemExit(f"sheet: could not write {out}")
    Path(tmp).replace(out)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:] or ["--help"]
    if cmd == "photo" and len(args) == 1:
        photo(*args)
    elif cmd == "video" and len(args) == 3:
        video(*args)
    elif cmd == "sheet" and len(args) == 4:
        sheet(*args)
    else:
        raise SystemExit(__doc__)
