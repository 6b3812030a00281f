"""Tiny random feature extractors saved as TorchScript (loaded through the real loader), and a
small real dataset: a textured square moving over a photograph."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata
from torch import nn

SIZE, FRAMES = 128, 8


class TinyInception(nn.Module):
    """Same call as inception-2015-12-05.pt: uint8 (N, 3, H, W), return_features -> (N, 8)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 5, stride=4)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        y = torch.relu(self.conv(x.float() / 255.0))
        return y.mean(dim=(2, 3))


class TinyI3D(nn.Module):
    """Same call as i3d_torchscript.pt: float (N, 3, T, 224, 224) in [-1, 1] -> (N, 6)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 6, (3, 8, 8), stride=(1, 8, 8))

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False,
                return_features: bool = False) -> torch.Tensor:
        return torch.tanh(self.conv(x)).mean(dim=(2, 3, 4))


@pytest.fixture(scope="session")
def extractor_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("extractors")
    torch.manual_seed(0)
    paths = {"inception": folder / "inception-2015-12-05.pt", "i3d": folder / "i3d_torchscript.pt"}
    torch.jit.save(torch.jit.script(TinyInception()), str(paths["inception"]))
    torch.jit.save(torch.jit.script(TinyI3D()), str(paths["i3d"]))
    return paths


def moving_square_clip(seed: int, frames: int = FRAMES) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = rng.integers(0, 300, size=2)
    bg = cv2.resize(skdata.astronaut()[y:y + 200, x:x + 200], (SIZE, SIZE))
    tex = cv2.resize(skdata.coffee()[50:250, 100:300], (32, 32))
    mask = np.zeros((SIZE, SIZE), bool)
    mask[30:62, 20:52] = True
    video = []
    for i in range(frames):
        f = bg.copy()
        d = 3 * i
        f[30 + i:62 + i, 20 + d:52 + d] = tex
        video.append(f)
    return np.stack(video), mask


def write_real_dataset(root: Path, clips: int = 3) -> Path:
    from server.training import layout
    from server.training.prepare import PrepareSettings, build_manifest

    for c in range(clips):
        video, mask = moving_square_clip(c)
        pos = np.zeros((FRAMES, 1, 2), np.float32)
        layout.write_clip(root, f"clip{c}", video, [mask], pos, np.ones((FRAMES, 1), bool),
                          np.zeros(1, np.int16), {"frames": FRAMES, "width": SIZE, "height": SIZE})
    layout.write_json_atomic(root / layout.MANIFEST, build_manifest(
        root, PrepareSettings(frames=FRAMES, width=SIZE, height=SIZE), {}))
    return root


def write_generated(folder: Path, videos: dict[str, np.ndarray]) -> Path:
    for cid, video in videos.items():
        (folder / cid).mkdir(parents=True)
        for i, f in enumerate(video):
            cv2.imwrite(str(folder / cid / f"{i:04d}.png"), np.ascontiguousarray(f[:, :, ::-1]))
    return folder


@pytest.fixture(scope="session")
def real_dataset(tmp_path_factory) -> Path:
    return write_real_dataset(tmp_path_factory.mktemp("real") / "ds")
