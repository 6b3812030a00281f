"""Parameter count of the TrackAdapter on the full SVD-XT UNet (paper Table 1: 29.36M added).

The UNet is built on the ``meta`` device from SVD_XT_UNET_CONFIG: no weights, no download.
"""
from __future__ import annotations

import torch

from server.trackgo.adapter import TrackAdapter
from server.trackgo.config import SVD_XT_UNET_CONFIG


def count_added_parameters() -> dict[str, int]:
    """Adapter parameters per group (encoder, alignment, query_key) and in total (paper Table 1),
    ``svd_query_key``: the fine-tuned copies of SVD's temporal W_q / W_k the ``paper`` training
    config also trains (reported apart: they replace SVD weights, they are not added ones),
    ``svd_temporal``: the tuned copies of SVD's temporal layers it trains as well (all of them but
    the W_q / W_k the svd_query_key copies stand in for), the UNet's own count for reference,
    and the number of temporal attention layers adapted."""
    from diffusers import UNetSpatioTemporalConditionModel

    with torch.device("meta"):
        unet = UNetSpatioTemporalConditionModel(**SVD_XT_UNET_CONFIG)
        adapter = TrackAdapter.from_unet(unet, tune_base_query_key=True)
        adapter.tune_temporal(unet, trainable=True)
    groups = adapter.parameter_groups()
    counts = {name: sum(p.numel() for p in params) for name, params in groups.items()}
    counts["total"] = sum(p.numel() for p in adapter.parameters()) - counts["svd_query_key"]
    counts["unet"] = sum(p.numel() for p in unet.parameters())
    counts["layers"] = len(adapter.layers)
    return counts
