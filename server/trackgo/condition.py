"""Per-job state shared by the installed processors: the trajectory condition and its cache,
and the optional capture of the original branch's attention maps.

diffusers' ``UNetSpatioTemporalConditionModel.forward`` takes no ``cross_attention_kwargs``, so
the condition cannot travel with the forward call. Instead the adapter owns one ``AdapterState``
that every processor it installs holds a reference to; ``TrackAdapter.condition(...)`` sets it for
the duration of a ``with`` block (one job, or one training step) and clears it afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class LayerTensors:
    """Everything one layer needs that depends on P only (Eqs. 2-3 and the tau gate), for the
    batch the layer sees: ``a_prime`` (N_f, heads, L, L) in the model dtype, ``a_mask`` (N, heads,
    L, L) materialised for the whole batch (SDPA wants a mask per batch row), ``gate`` (N_f, heads,
    L, 1) or None when tau == 0, and ``repeats`` = N / N_f (2 under classifier-free guidance)."""

    a_prime: torch.Tensor
    a_mask: torch.Tensor
    gate: torch.Tensor | None
    repeats: int


@dataclass
class TrackCondition:
    """f = E(P) for one job plus the inference controls; ``cache`` keeps each layer's
    LayerTensors across denoising steps (they depend on P only), False recomputes per step."""

    features: torch.Tensor            # (B_f, L, C_f, h, w) at latent resolution
    alpha: float
    tau: float
    gate_value: float                 # tau_gate(tau)
    cache: bool = True
    layers: dict = field(default_factory=dict)

    @property
    def latent_size(self) -> tuple[int, int]:
        return int(self.features.shape[-2]), int(self.features.shape[-1])


@dataclass
class AttentionRecord:
    """The original branch's attention in one temporal layer. ``diagonal`` is A_q(i, i) laid out
    (B, heads, L, h, w) so a mask down-sampled to (h, w) multiplies it directly (Eq. 8); ``full``
    is (B, h, w, heads, L, L) when full maps were asked for, else None. Gradients are kept."""

    name: str
    level: int
    diagonal: torch.Tensor
    full: torch.Tensor | None = None


@dataclass
class AttentionCapture:
    """Collects one AttentionRecord per layer call while active."""

    full: bool = False
    records: list = field(default_factory=list)


@dataclass
class AdapterState:
    condition: TrackCondition | None = None
    capture: AttentionCapture | None = None
