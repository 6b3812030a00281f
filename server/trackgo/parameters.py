"""Parameter count of the TrackAdapter on the full SVD-XT UNet (paper Table 1: 29.36M added).

The UNet is built on the ``meta`` device from SVD_XT_UNET_CONFIG: no weights, no download.
"""
from __future__ import annotations

import torch

from server.trackgo.adapter import TrackAdapter
from server.trackgo.config import SVD_XT_UNET_CONFIG


def count_added_parameters() -> dict[str, int]:
    """Adapter parameters per group (encoder, alignment, query_key) and in total, the UNet's own
    count for reference, and the number of temporal attention layers adapted."""
    from diffusers import UNetSpatioTemporalConditionModel

    with torch.device("meta"):
        unet = UNetSpatioTemporalConditionModel(**SVD_XT_UNET_CONFIG)
        adapter = TrackAdapter.from_unet(unet)
    counts = {name: sum(p.numel() for p in params) for name, params in adapter.parameter_groups().items()}
    counts["total"] = sum(p.numel() for p in adapter.parameters())
    counts["unet"] = sum(p.numel() for p in unet.parameters())
    counts["layers"] = len(adapter.layers)
    return counts
