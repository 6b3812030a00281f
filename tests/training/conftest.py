"""Synthetic clips with known motion: textured shapes moving over a real photograph.

Each clip is written as a folder of PNG frames (lossless, so the tracker sees exactly what was
rendered) plus a label-image mask of frame 0. ``truth`` gives every component's displacement per
frame in *source* pixels, so a test can check the builder's tracks against it.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

SRC_W, SRC_H = 320, 240


@dataclass
class SyntheticClip:
    frames: np.ndarray          # (L, H, W, 3) RGB at source size
    labels: np.ndarray          # (H, W) uint8, 0 = background, j+1 = component j at frame 0
    displacement: np.ndarray    # (L, C, 2) source-pixel offset of component j at frame i


def _background() -> np.ndarray:
    return cv2.resize(skdata.astronaut(), (SRC_W, SRC_H), interpolation=cv2.INTER_AREA)


def _texture(h: int, w: int, which: str) -> np.ndarray:
    img = {"coffee": skdata.coffee, "chelsea": skdata.chelsea}[which]()
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def make_clip(length: int = 10, moving: bool = True) -> SyntheticClip:
    """Two components: a large ellipse (linear path) and a small square (curved path)."""
    bg = _background()
    t = np.arange(length, dtype=np.float32)
    scale = 1.0 if moving else 0.0
    paths = np.stack([
        np.stack([2.0 * t, 1.0 * t], axis=1),
        np.stack([20.0 * np.sin(t / 5.0), 15.0 * (1 - np.cos(t / 5.0))], axis=1),
    ], axis=1) * scale                                       # (L, 2, 2)
    layers = []
    ellipse = np.zeros((SRC_H, SRC_W), np.uint8)
    cv2.ellipse(ellipse, (95, 110), (72, 48), 0, 0, 360, 255, -1)
    tex = np.zeros_like(bg)
    tex[40:180, 20:170] = _texture(140, 150, "coffee")
    layers.append((tex, ellipse))
    square = np.zeros((SRC_H, SRC_W), np.uint8)
    square[60:110, 220:270] = 255
    tex2 = np.zeros_like(bg)
    tex2[60:110, 220:270] = _texture(50, 50, "chelsea")
    layers.append((tex2, square))

    frames = []
    for i in range(length):
        frame = bg.astype(np.float32)
        for j, (tex, mask) in enumerate(layers):
            m = np.float32([[1, 0, paths[i, j, 0]], [0, 1, paths[i, j, 1]]])
            moved = cv2.warpAffine(tex, m, (SRC_W, SRC_H), flags=cv2.INTER_LINEAR)
            alpha = cv2.warpAffine(mask, m, (SRC_W, SRC_H), flags=cv2.INTER_LINEAR)[..., None] / 255.0
            frame = frame * (1 - alpha) + moved.astype(np.float32) * alpha
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
    labels = np.zeros((SRC_H, SRC_W), np.uint8)
    labels[ellipse > 0] = 1
    labels[square > 0] = 2
    return SyntheticClip(np.stack(frames), labels, paths)


def write_frame_folder(folder: Path, frames: np.ndarray) -> None:
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.png"), f[:, :, ::-1])


@pytest.fixture(scope="session")
def synthetic_clip() -> SyntheticClip:
    return make_clip()


@pytest.fixture
def clip_folder(tmp_path, synthetic_clip):
    """An input folder holding one moving clip ``walk`` and its label mask."""
    root = tmp_path / "input"
    write_frame_folder(root / "walk", synthetic_clip.frames)
    (root / "masks").mkdir()
    cv2.imwrite(str(root / "masks" / "walk.png"), synthetic_clip.labels)
    return root


# ---------------------------------------------------------------------------- training fixtures
TINY_SIZE, TINY_FRAMES = 64, 6


def write_tiny_dataset(root: Path, clips: int = 4) -> Path:
    """A prepared dataset (layout.write_clip, no tracking) of photo crops with a moving square."""
    from server.training import layout
    from server.training.prepare import PrepareSettings, build_manifest

    rng = np.random.default_rng(0)
    photo = skdata.astronaut()
    for c in range(clips):
        y, x = rng.integers(0, 400, size=2)
        base = cv2.resize(photo[y:y + 96, x:x + 96], (TINY_SIZE, TINY_SIZE))
        patch = cv2.resize(skdata.coffee()[100:200, 200:300], (16, 16))
        frames, mask = [], np.zeros((TINY_SIZE, TINY_SIZE), bool)
        mask[20:36, 10:26] = True
        pts = np.array([[14, 24], [22, 24], [14, 32], [22, 32], [18, 28]], np.float32)
        positions = []
        for i in range(TINY_FRAMES):
            f = base.copy()
            dx = 3 * i + c
            f[20:36, 10 + dx:26 + dx] = patch
            frames.append(f)
            positions.append(pts + [dx, 0])
        positions = np.stack(positions)
        layout.write_clip(root, f"clip{c}", np.stack(frames), [mask], positions,
                          np.ones(positions.shape[:2], bool), np.zeros(len(pts), np.int16),
                          {"frames": TINY_FRAMES, "width": TINY_SIZE, "height": TINY_SIZE})
    settings = PrepareSettings(frames=TINY_FRAMES, width=TINY_SIZE, height=TINY_SIZE)
    layout.write_json_atomic(root / layout.MANIFEST, build_manifest(root, settings, {}))
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from server.trackgo.tiny import create_tiny_model
    return create_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("data") / "ds")


@pytest.fixture
def tiny_config(tiny_model, tiny_dataset):
    from server.training import config as cfgmod
    return cfgmod.load(cfgmod.CONFIG_DIR / "tiny.toml", [
        f"model.svd={tiny_model / 'svd'}", f"model.adapter={tiny_model / 'adapter'}",
        f"data.dataset={tiny_dataset}"])


@pytest.fixture(scope="session")
def training_curve():
    """benchmarks/training_curve.py as a module (benchmarks/ is not a package)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "training_curve.py"
    spec = importlib.util.spec_from_file_location("training_curve", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def encoder_inputs(trainer) -> list:
    """Every P the trainer's trajectory encoder is given from now on (a list that fills up)."""
    seen = []
    trainer.adapter.encoder.register_forward_hook(lambda module, args, out: seen.append(args[0].detach().clone()))
    return seen
