"""Print the parameters the TrackAdapter adds to the full SVD-XT UNet (paper Table 1: 29.36M).

Built on the ``meta`` device (server/trackgo/parameters.py): runs in seconds, no weights.
Prints ``name=value`` lines: the added groups and ``added_params_M``, then the SVD weights the
``paper`` training config fine-tunes (copies, not added ones).
Run: PYTHONPATH=. .venvs/server/bin/python benchmarks/adapter_params.py
"""
from __future__ import annotations

from server.trackgo.parameters import count_added_parameters


def main() -> None:
    counts = count_added_parameters()
    print(f"temporal_attention_layers={counts['layers']}")
    print(f"svd_xt_unet_params_M={counts['unet'] / 1e6:.2f}")
    for group in ("encoder", "alignment", "query_key"):
        print(f"{group}_params={counts[group]}")
        print(f"{group}_params_M={counts[group] / 1e6:.4f}")
    print(f"added_params={counts['total']}")
    print(f"added_params_M={counts['total'] / 1e6:.2f}")
    # trained by the paper config too, but SVD's own weights (copies), not added ones
    print(f"fine_tuned_svd_query_key_params={counts['svd_query_key']}")
    print(f"fine_tuned_svd_temporal_params={counts['svd_temporal']}")
    print(f"fine_tuned_svd_temporal_params_M={counts['svd_temporal'] / 1e6:.2f}")


if __name__ == "__main__":
    main()
