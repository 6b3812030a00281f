"""Fréchet distance against closed forms, and FID/FVD through the real TorchScript loader."""
from __future__ import annotations

import numpy as np
import pytest

from server.evaluation.features import ExtractorMissing, I3DExtractor, InceptionExtractor
from server.evaluation.fid import GaussianStats, fid, frechet_distance
from server.evaluation.fvd import fvd


def stats(mean, cov):
    return GaussianStats(np.asarray(mean, float), np.asarray(cov, float), 100)


def test_frechet_matches_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))          # shared eigenvectors -> closed form
    a_eig, b_eig = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    a = stats(mu1, q @ np.diag(a_eig) @ q.T)
    b = stats(mu2, q @ np.diag(b_eig) @ q.T)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a_eig) - np.sqrt(b_eig)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_one_dimensional_and_singular():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(stats([1.0], [[4.0]]), stats([3.0], [[9.0]])) == pytest.approx(4 + 1)
    # Rank-deficient covariances (fewer samples than dimensions) stay finite and >= 0.
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3, 10)), rng.normal(size=(3, 10)) + 2
    d = frechet_distance(GaussianStats.of(x), GaussianStats.of(y))
    assert np.isfinite(d) and d > 0


def test_fid_and_fvd_through_the_torchscript_loader(extractor_files):
    from .conftest import moving_square_clip

    inception = InceptionExtractor(extractor_files["inception"])
    i3d = I3DExtractor(extractor_files["i3d"].parent)            # a folder holding the file works too
    videos = np.stack([moving_square_clip(s)[0] for s in range(4)])
    frames = videos.reshape(-1, *videos.shape[2:])
    assert fid(frames, frames, inception) == pytest.approx(0.0, abs=1e-6)
    darker = (frames * 0.5).astype(np.uint8)
    assert fid(frames, darker, inception) > 1e-3
    assert fvd(videos, videos, i3d) == pytest.approx(0.0, abs=1e-6)
    assert fvd(videos, videos[:, ::-1].copy(), i3d) > 1e-6      # time reversed: FVD sees it
    assert inception.features(frames).shape == (len(frames), 8)


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(ExtractorMissing, match="inception-2015-12-05.pt.*--inception"):
        InceptionExtractor(None)
    with pytest.raises(ExtractorMissing, match="not found.*i3d_torchscript.pt"):
        I3DExtractor(tmp_path)
    (tmp_path / "i3d_torchscript.pt").write_bytes(b"not a model")
    with pytest.raises(ExtractorMissing, match="not a TorchScript file"):
        I3DExtractor(tmp_path)
