"""Count the parameters the TrackAdapter adds to the full SVD-XT UNet (paper Table 1: 29.36M).

The UNet is built on the ``meta`` device from the configuration written in
server/trackgo/config.py: no weights, no download, a fraction of a second.
Prints ``name=value`` lines; the last is ``added_params_M=<number>``.
"""
from __future__ import annotations

import torch
from diffusers import UNetSpatioTemporalConditionModel

from server.trackgo import SVD_XT_UNET_CONFIG, TrackAdapter


def count_added_parameters() -> dict[str, int]:
    """Parameters per group of the adapter built for SVD-XT, plus the UNet's own for reference."""
    with torch.device("meta"):
        unet = UNetSpatioTemporalConditionModel(**SVD_XT_UNET_CONFIG)
        adapter = TrackAdapter.from_unet(unet)
    groups = {name: sum(p.numel() for p in params) for name, params in adapter.parameter_groups().items()}
    groups["total"] = sum(p.numel() for p in adapter.parameters())
    groups["unet"] = sum(p.numel() for p in unet.parameters())
    groups["layers"] = len(adapter.layers)
    return groups


def main() -> None:
    counts = count_added_parameters()
    print(f"temporal_attention_layers={counts['layers']}")
    print(f"svd_xt_unet_params_M={counts['unet'] / 1e6:.2f}")
    for group in ("encoder", "alignment", "query_key"):
        print(f"{group}_params_M={counts[group] / 1e6:.4f}")
    print(f"added_params={counts['total']}")
    print(f"added_params_M={counts['total'] / 1e6:.2f}")


if __name__ == "__main__":
    main()
