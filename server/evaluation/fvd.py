"""FVD: the Fréchet distance between I3D features of real and generated clips."""
from __future__ import annotations

import numpy as np

from server.evaluation.features import FeatureExtractor
from server.evaluation.fid import GaussianStats, frechet_distance


def fvd(real_videos: np.ndarray, generated_videos: np.ndarray, extractor: FeatureExtractor) -> float:
    """FVD between two sets of uint8 clips (N, T, H, W, 3) of equal length T."""
    if real_videos.shape[1] != generated_videos.shape[1]:
        raise ValueError(f"videos: real clips have {real_videos.shape[1]} frames, generated "
                         f"{generated_videos.shape[1]}: compare clips of equal length")
    return frechet_distance(GaussianStats.of(extractor.features(real_videos)),
                            GaussianStats.of(extractor.features(generated_videos)))
