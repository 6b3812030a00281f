"""Feature extractors for FID (Inception) and FVD (I3D), loaded from a local file only.

Both are the TorchScript files the field uses, behind one small interface so tests can save a
tiny random TorchScript module with the same call signature and load it through the same path:

* Inception: ``inception-2015-12-05.pt`` (NVlabs stylegan2-ada-pytorch metrics). Takes uint8
  images (N, 3, H, W), resizes to 299 itself; ``return_features=True`` gives (N, 2048) pool features.
* I3D: ``i3d_torchscript.pt`` (StyleGAN-V / fvd-comparison, the Kinetics-400 I3D of the original
  FVD). Takes float videos (N, 3, T, 224, 224) in [-1, 1]; with ``rescale=False, resize=False,
  return_features=True`` gives (N, 400) logits-layer features.
Nothing is downloaded: without the file, ``ExtractorMissing`` says which file is needed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

INCEPTION_FILE = "inception-2015-12-05.pt"
I3D_FILE = "i3d_torchscript.pt"
I3D_SIZE = 224


class ExtractorMissing(FileNotFoundError):
    """The feature extractor's weights file is not there; the message names the file."""


class FeatureExtractor(Protocol):
    """``features(batch uint8) -> (N, D) float64``: images (N, H, W, 3) or videos (N, T, H, W, 3)."""

    name: str

    def features(self, batch: np.ndarray) -> np.ndarray: ...


def _load_torchscript(path: str | Path | None, expected: str, metric: str, option: str):
    import torch

    if not path:
        raise ExtractorMissing(f"{metric}: needs the TorchScript weights file {expected!r} on this "
                               f"machine (nothing is downloaded); pass {option} PATH")
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / expected
    if not path.is_file():
        raise ExtractorMissing(f"{metric}: weights file not found: {path} (expected {expected!r}; "
                               f"pass {option} PATH)")
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except RuntimeError as exc:
        raise ExtractorMissing(f"{metric}: {path} is not a TorchScript file ({exc})") from exc


def _run(extractor, x, **kwargs):
    """The TorchScript call; a failure (e.g. the other metric's file) names the file it ran."""
    try:
        return extractor.module(x, **kwargs)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()
        raise ValueError(f"{extractor.name}: {extractor.path} failed on a {tuple(x.shape)} batch "
                         f"(is it {extractor.expected!r}?): {detail[-1] if detail else exc}") from exc


class InceptionExtractor:
    name = "inception"

    def __init__(self, path: str | Path | None, batch: int = 32, device: str = "cpu") -> None:
        self.module = _load_torchscript(path, INCEPTION_FILE, "FID", "--inception").to(device)
        self.path, self.expected = path, INCEPTION_FILE
        self.batch, self.device = batch, device

    def features(self, images: np.ndarray) -> np.ndarray:
        import torch

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images: expected uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
        out = []
        with torch.no_grad():
            for start in range(0, len(images), self.batch):
                x = torch.from_numpy(images[start:start + self.batch]).permute(0, 3, 1, 2).to(self.device)
                out.append(_run(self, x, return_features=True).double().cpu().numpy())
        return np.concatenate(out).reshape(len(images), -1)


class I3DExtractor:
    name = "i3d"

    def __init__(self, path: str | Path | None, batch: int = 4, device: str = "cpu") -> None:
        self.module = _load_torchscript(path, I3D_FILE, "FVD", "--i3d").to(device)
        self.path, self.expected = path, I3D_FILE
        self.batch, self.device = batch, device

    def features(self, videos: np.ndarray) -> np.ndarray:
        import torch

        videos = np.asarray(videos)
        if videos.ndim != 5 or videos.shape[-1] != 3 or videos.dtype != np.uint8:
            raise ValueError(f"videos: expected uint8 (N, T, H, W, 3), got {videos.dtype} {videos.shape}")
        out = []
        with torch.no_grad():
            for start in range(0, len(videos), self.batch):
                chunk = np.stack([[cv2.resize(f, (I3D_SIZE, I3D_SIZE), interpolation=cv2.INTER_AREA)
                                   for f in video] for video in videos[start:start + self.batch]])
                x = torch.from_numpy(chunk).float().div(127.5).sub(1.0).permute(0, 4, 1, 2, 3)
                feats = _run(self, x.to(self.device), rescale=False, resize=False, return_features=True)
                out.append(feats.double().cpu().numpy())
        return np.concatenate(out).reshape(len(videos), -1)
