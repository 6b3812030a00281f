"""Fixtures for the model tests: a tiny random SVD, saved and loaded through the real path."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from server.trackgo.tiny import create_tiny_model

    return create_tiny_model(tmp_path_factory.mktemp("trackgo") / "tiny")


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_dir):
    from server.trackgo.loading import load_pipeline

    return load_pipeline(tiny_dir / "svd", tiny_dir / "adapter", device="cpu")


@pytest.fixture()
def tiny_unet():
    """A fresh random tiny SVD UNet (tests install processors into it)."""
    import torch
    from diffusers import UNetSpatioTemporalConditionModel

    from server.trackgo.tiny import TINY_UNET_CONFIG

    torch.manual_seed(0)
    return UNetSpatioTemporalConditionModel(**TINY_UNET_CONFIG)
