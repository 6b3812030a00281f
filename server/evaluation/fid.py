"""Fréchet distance between two Gaussians fitted to features, and FID over frames.

d^2 = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^{1/2}), with the matrix square root from
``scipy.linalg.sqrtm``. As in the reference implementations, a near-singular product (few
samples) is retried with eps * I added to both covariances, and the square root's tiny
imaginary part from round-off is dropped (a large one is an error).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from server.evaluation.features import FeatureExtractor


@dataclass(frozen=True)
class GaussianStats:
    mean: np.ndarray
    cov: np.ndarray
    count: int

    @classmethod
    def of(cls, features: np.ndarray) -> "GaussianStats":
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or len(features) < 2:
            raise ValueError(f"features: expected (N >= 2, D), got shape {features.shape}")
        return cls(features.mean(axis=0), np.cov(features, rowvar=False).reshape(
            features.shape[1], features.shape[1]), len(features))


def frechet_distance(a: GaussianStats, b: GaussianStats, eps: float = 1e-6) -> float:
    diff = a.mean - b.mean
    with warnings.catch_warnings():             # singular products are handled just below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(a.cov @ b.cov)
        if not np.isfinite(covmean).all():
            offset = np.eye(a.cov.shape[0]) * eps
            covmean = linalg.sqrtm((a.cov + offset) @ (b.cov + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"frechet: imaginary component {np.max(np.abs(covmean.imag)):.3g} "
                             "in the covariance square root")
        covmean = covmean.real
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * np.trace(covmean))


def fid(real_frames: np.ndarray, generated_frames: np.ndarray, extractor: FeatureExtractor) -> float:
    """FID between two sets of uint8 frames (N, H, W, 3)."""
    return frechet_distance(GaussianStats.of(extractor.features(real_frames)),
                            GaussianStats.of(extractor.features(generated_frames)))
