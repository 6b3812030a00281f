"""TrackAdapter: the trajectory encoder plus one small module per temporal self-attention layer,
installed into an SVD UNet as swappable attention processors.

This is the API the backend, the pipeline and training share (documented in docs/model.md):

    adapter = TrackAdapter.from_unet(unet)              # W'q, W'k initialised from to_q / to_k
    adapter.install(unet)                               # processors on every temporal attn1
    with adapter.condition(trajectories=P, alpha=0.2, tau=0.0):
        noise_pred = unet(latents, t, image_embeddings, added_time_ids).sample
    with adapter.capture_attention() as capture:        # Eq. 8 maps, only when asked
        ...; capture.records
    adapter.remove(unet)                                # the untouched UNet, bit for bit
    adapter.save_pretrained(folder); TrackAdapter.from_pretrained(folder)
    adapter.tune_temporal(unet)                         # also train copies of SVD's temporal layers
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch
from torch import nn
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin

from server.trackgo.attention import tau_gate
from server.trackgo.condition import AdapterState, AttentionCapture, TrackCondition
from server.trackgo.config import DEFAULT_ALPHA, DEFAULT_CONDITION_CHANNELS, DEFAULT_ENCODER_CHANNELS, DEFAULT_TAU
from server.trackgo.encoder import TrajectoryEncoder, trajectories_to_tensor
from server.trackgo.processor import TrackAdapterProcessor
from server.trackgo.temporal import TEMPORAL_WEIGHTS, TemporalWeights

TEMPORAL_ATTENTION_SUFFIX = ".temporal_transformer_blocks.0.attn1"


class TrackAdapterLayer(nn.Module):
    """Per-layer weights: ``align`` (f's channels -> the layer's width), W'q and W'k.

    With ``tune_base`` it also holds ``base_q`` / ``base_k``: trainable copies of the layer's own
    W_q / W_k that the original branch then uses instead of SVD's (the UNet itself is never
    changed). Eq. 9 minimises L_attn over the trained weights, and L_attn penalises the original
    branch's map, which A_M (a hard threshold) cannot reach: these copies are what it trains."""

    def __init__(self, condition_channels: int, channels: int, tune_base: bool = False) -> None:
        super().__init__()
        self.align = nn.Linear(condition_channels, channels)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(channels, channels, bias=False)
        self.base_q = nn.Linear(channels, channels, bias=False) if tune_base else None
        self.base_k = nn.Linear(channels, channels, bias=False) if tune_base else None


def temporal_attention_layers(unet: nn.Module) -> list[tuple[str, nn.Module, int]]:
    """(name, attn1 module, UNet level) for every TemporalBasicTransformerBlock's self-attention,
    in module order. The level (0 = latent resolution) comes from the block the layer sits in."""
    blocks = len(unet.config.block_out_channels)
    found = []
    for name, module in unet.named_modules():
        if not (name.endswith(".attn1") and ".temporal_transformer_blocks." in name):
            continue
        top, index = name.split(".")[:2]
        if top == "down_blocks":
            level = int(index)
        elif top == "up_blocks":
            level = blocks - 1 - int(index)
        elif top == "mid_block":
            level = blocks - 1
        else:  # pragma: no cover - not an SVD UNet layout
            raise ValueError(f"unet: unexpected temporal attention layer {name}")
        found.append((name, module, level))
    if not found:
        raise ValueError("unet: no temporal self-attention layers (expected an SVD UNetSpatioTemporalConditionModel)")
    return found


class TrackAdapter(ModelMixin, ConfigMixin):
    """All trainable TrackGo weights; the SVD UNet itself stays frozen and untouched (tuned
    temporal layers, when there are some, are copies swapped in by ``install``)."""

    config_name = "config.json"

    @register_to_config
    def __init__(
        self,
        layer_names: list[str],
        layer_channels: list[int],
        layer_heads: list[int],
        layer_levels: list[int],
        condition_channels: int = DEFAULT_CONDITION_CHANNELS,
        encoder_channels: tuple[int, int, int] = DEFAULT_ENCODER_CHANNELS,
        tune_base_query_key: bool = False,
    ) -> None:
        super().__init__()
        if not (len(layer_names) == len(layer_channels) == len(layer_heads) == len(layer_levels)):
            raise ValueError("adapter config: layer_names, layer_channels, layer_heads, layer_levels must have equal lengths")
        self.encoder = TrajectoryEncoder(condition_channels, tuple(encoder_channels))
        self.layers = nn.ModuleList(TrackAdapterLayer(condition_channels, c, tune_base_query_key)
                                    for c in layer_channels)
        self._state = AdapterState()
        self._originals: dict[str, object] = {}
        # Tuned copies of SVD's temporal layers (temporal.py), when this adapter has them. Kept
        # outside the module tree: they are not adapter weights, they live in the UNet while
        # installed, and they are saved to a file of their own. ``_temporal_state``: the tensors
        # read by from_pretrained, turned into copies at the first install.
        object.__setattr__(self, "_temporal", None)
        self._temporal_state: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_unet(cls, unet: nn.Module, condition_channels: int = DEFAULT_CONDITION_CHANNELS,
                  encoder_channels: tuple[int, int, int] = DEFAULT_ENCODER_CHANNELS,
                  tune_base_query_key: bool = False) -> "TrackAdapter":
        """A fresh adapter shaped for ``unet``, W'q / W'k copied from each layer's to_q / to_k
        (paper: "initialized from the original temporal attention branch"); with
        ``tune_base_query_key`` also the trainable copies base_q / base_k (same start)."""
        layers = temporal_attention_layers(unet)
        param = next(unet.parameters())
        with torch.device(param.device):
            adapter = cls(
                layer_names=[name for name, _, _ in layers],
                layer_channels=[attn.to_q.out_features for _, attn, _ in layers],
                layer_heads=[attn.heads for _, attn, _ in layers],
                layer_levels=[level for _, _, level in layers],
                condition_channels=condition_channels,
                encoder_channels=tuple(encoder_channels),
                tune_base_query_key=tune_base_query_key,
            )
        with torch.no_grad():
            for layer, (_, attn, _) in zip(adapter.layers, layers):
                for copy in (layer.to_q, layer.base_q):
                    if copy is not None:
                        copy.weight.copy_(attn.to_q.weight)
                for copy in (layer.to_k, layer.base_k):
                    if copy is not None:
                        copy.weight.copy_(attn.to_k.weight)
        if param.dtype != torch.float32:
            adapter = adapter.to(param.dtype)
        return adapter

    # ------------------------------------------------------------------ install / remove
    def install(self, unet: nn.Module) -> None:
        """Swap a TrackAdapterProcessor into every temporal attn1; keeps the originals."""
        layers = temporal_attention_layers(unet)
        expected = list(zip(self.config.layer_names, self.config.layer_channels, self.config.layer_heads))
        actual = [(name, attn.to_q.out_features, attn.heads) for name, attn, _ in layers]
        if expected != actual:
            raise ValueError(
                "adapter: built for a different UNet (layer names/widths/heads differ); "
                f"expected {len(expected)} layers {expected[:2]}..., the UNet has {len(actual)} {actual[:2]}..."
            )
        if self._originals:
            raise RuntimeError("adapter: already installed; call remove(unet) first")
        if self._temporal is None and self._temporal_state is not None:
            self.tune_temporal(unet, trainable=False)
        if self._temporal is not None:          # first: the processors go on the copies' attn1
            self._temporal.install(unet)
            layers = temporal_attention_layers(unet)
        for index, (name, attn, level) in enumerate(layers):
            self._originals[name] = attn.processor
            attn.set_processor(TrackAdapterProcessor(self.layers[index], index, name, level, self._state))

    def remove(self, unet: nn.Module) -> None:
        """Put back the exact processor objects (and temporal modules) there before install."""
        for name, attn, _ in temporal_attention_layers(unet):
            if name in self._originals:
                attn.set_processor(self._originals.pop(name))
        if self._temporal is not None:
            self._temporal.remove(unet)

    # ------------------------------------------------------------------ SVD's temporal layers
    def tune_temporal(self, unet: nn.Module, trainable: bool = True) -> TemporalWeights:
        """Give this adapter its own copies of ``unet``'s temporal layers (``model.tune_svd_temporal``):
        from the weights it was loaded with, if it has some, else from ``unet``'s. From then on
        ``install`` swaps them into the UNet, ``save_pretrained`` writes them. Call before install.
        ``trainable``: they take gradients (but for the W_q / W_k the svd_query_key copies shadow)."""
        if self.installed:
            raise RuntimeError("adapter: tune_temporal before install (the copies are made from SVD's own layers)")
        if self._temporal is None:
            object.__setattr__(self, "_temporal", TemporalWeights.from_unet(unet, self._temporal_state))
            self._temporal_state = None
        self._temporal.requires_grad_(trainable)
        if trainable and self.config.tune_base_query_key:
            self._temporal.freeze_query_key()
        return self._temporal

    @property
    def temporal(self) -> TemporalWeights | None:
        """The tuned copies of SVD's temporal layers (None: plain SVD's are used)."""
        return self._temporal

    @property
    def has_temporal_weights(self) -> bool:
        return self._temporal is not None or self._temporal_state is not None

    def save_pretrained(self, save_directory, **kwargs) -> None:
        """diffusers' config + safetensors, plus ``svd_temporal.safetensors`` when the adapter has
        tuned temporal layers (a stale one from an earlier save into the folder is removed)."""
        super().save_pretrained(save_directory, **kwargs)
        state = self._temporal.unet_state() if self._temporal is not None else self._temporal_state
        if state is not None:
            TemporalWeights.write(state, save_directory)
        else:
            (Path(save_directory) / TEMPORAL_WEIGHTS).unlink(missing_ok=True)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> "TrackAdapter":
        """diffusers' loading, plus the folder's tuned temporal layers if it has them."""
        adapter = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        adapter._temporal_state = TemporalWeights.read(pretrained_model_name_or_path)
        return adapter

    def enable_base_query_key(self, unet: nn.Module) -> None:
        """Add the trainable copies of the original branch's W_q / W_k to an adapter made
        without them (e.g. one loaded to continue training), copied from ``unet``'s layers."""
        if self.config.tune_base_query_key:
            return
        layers = temporal_attention_layers(unet)
        param = self.encoder.fc.weight
        for layer, (_, attn, _) in zip(self.layers, layers):
            for name, source in (("base_q", attn.to_q), ("base_k", attn.to_k)):
                copy = nn.Linear(source.in_features, source.out_features, bias=False,
                                 device=param.device, dtype=param.dtype)
                with torch.no_grad():
                    copy.weight.copy_(source.weight)
                setattr(layer, name, copy)
        self.register_to_config(tune_base_query_key=True)
        if self._temporal is not None:
            self._temporal.freeze_query_key()

    @property
    def installed(self) -> bool:
        return bool(self._originals)

    # ------------------------------------------------------------------ per-job condition
    def encode(self, trajectories) -> torch.Tensor:
        """f = E(P) (Eq. 1). ``trajectories``: uint8 (L, H, W, 3) / (B, L, H, W, 3) as rendered by
        server.motion, or a float tensor (B, L, 3, H, W) in [0, 1]."""
        device = self.encoder.fc.weight.device
        if isinstance(trajectories, torch.Tensor) and trajectories.is_floating_point():
            tensor = trajectories.to(device=device, dtype=torch.float32)
        else:
            tensor = trajectories_to_tensor(trajectories, device, torch.float32)
        return self.encoder(tensor)              # float32 f whatever the weights' dtype

    @contextmanager
    def condition(self, trajectories=None, features: torch.Tensor | None = None, alpha: float = DEFAULT_ALPHA,
                  tau: float = DEFAULT_TAU, cache: bool = True) -> Iterator[TrackCondition]:
        """Make every installed processor use this trajectory condition inside the block.

        Give ``trajectories`` (P) or precomputed ``features`` (f). With ``cache`` the P-only
        tensors of each layer are computed on first use and reused for every later UNet call in
        the block (all denoising steps); without it they are recomputed per call (less memory)."""
        if (trajectories is None) == (features is None):
            raise ValueError("condition: give exactly one of trajectories (P) or features (f)")
        if not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"alpha: expected a number in (0, 1], got {alpha!r}")
        if features is None:
            features = self.encode(trajectories)
        if features.ndim != 5:
            raise ValueError(f"features: expected (batch, frames, channels, h, w), got shape {tuple(features.shape)}")
        if self._state.condition is not None:
            raise RuntimeError("adapter: a condition is already active (one job at a time per adapter)")
        self._state.condition = TrackCondition(features, float(alpha), float(tau), tau_gate(tau), cache)
        try:
            yield self._state.condition
        finally:
            self._state.condition = None

    @contextmanager
    def capture_attention(self, full: bool = False) -> Iterator[AttentionCapture]:
        """Record the original branch's attention maps (A_q, for Eq. 8) while active. Outside this
        block the processors stay on fused SDPA and build no maps at all."""
        capture = AttentionCapture(full=full)
        previous, self._state.capture = self._state.capture, capture
        try:
            yield capture
        finally:
            self._state.capture = previous

    # ------------------------------------------------------------------ training helpers
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by group: encoder E, per-layer alignment, W'q / W'k (the
        adapter proper, paper Table 1), and, when present, ``svd_query_key``: the fine-tuned
        copies of SVD's own temporal W_q / W_k, and ``svd_temporal``: the tuned copies of SVD's
        temporal layers that take a gradient (both counted apart: they replace SVD weights)."""
        groups = {
            "encoder": list(self.encoder.parameters()),
            "alignment": [p for layer in self.layers for p in layer.align.parameters()],
            "query_key": [p for layer in self.layers for p in (*layer.to_q.parameters(), *layer.to_k.parameters())],
        }
        if self.config.tune_base_query_key:
            groups["svd_query_key"] = [p for layer in self.layers
                                       for p in (*layer.base_q.parameters(), *layer.base_k.parameters())]
        if self._temporal is not None:
            groups["svd_temporal"] = [p for p in self._temporal.parameters() if p.requires_grad]
        return groups


def freeze(module: nn.Module) -> nn.Module:
    """SVD stays frozen while the adapter trains: no gradients for any of its parameters."""
    module.requires_grad_(False)
    return module
