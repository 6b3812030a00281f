"""Trainable copies of SVD's temporal layers, swapped into the UNet while a TrackAdapter is installed.

Eq. 5/9 minimise over θ, "the U-Net's parameters"; ``model.tune_svd_temporal`` reads that as the
adapter plus SVD's temporal layers (every ``temporal_res_block``, ``temporal_transformer_blocks``,
``time_pos_embed`` and ``time_mixer``; docs/model.md, ambiguity 10). The UNet's own modules are
never changed: ``install`` puts the copies in their place and keeps the originals, ``remove`` puts
the originals back, so plain SVD (``adapter.remove``) stays bit for bit what was loaded.

Saved next to the adapter's weights as ``svd_temporal.safetensors``, keyed by the UNet's own
parameter names (``down_blocks.0.resnets.0.temporal_res_block.conv1.weight``), so the file also
reads as a partial SVD UNet state dict.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import torch
from torch import nn

TEMPORAL_WEIGHTS = "svd_temporal.safetensors"
TEMPORAL_MODULES = ("temporal_res_block", "temporal_transformer_blocks", "time_pos_embed", "time_mixer")


def temporal_module_names(unet: nn.Module) -> list[str]:
    """Names of the UNet's temporal modules (the outermost ones; SVD nests none in another)."""
    names = [name for name, _ in unet.named_modules() if name.rsplit(".", 1)[-1] in TEMPORAL_MODULES]
    if not names:
        raise ValueError("unet: no temporal layers (expected an SVD UNetSpatioTemporalConditionModel)")
    return names


def _parent(unet: nn.Module, name: str) -> tuple[nn.Module, str]:
    parent, _, attr = name.rpartition(".")
    return (unet.get_submodule(parent) if parent else unet), attr


class TemporalWeights(nn.Module):
    """The copies, one per temporal module of the UNet (``copies[i]`` replaces ``names[i]``)."""

    def __init__(self, names: list[str], modules: list[nn.Module]) -> None:
        super().__init__()
        self.names = list(names)
        self.copies = nn.ModuleList(modules)
        self._originals: dict[str, nn.Module] = {}

    @classmethod
    def from_unet(cls, unet: nn.Module, state: dict[str, torch.Tensor] | None = None) -> "TemporalWeights":
        """Copies of ``unet``'s temporal modules: its weights, or ``state`` (a saved file's tensors,
        UNet parameter names) loaded into them. Refused on a UNet with an adapter (or copies) in it:
        the copies must be of SVD's own modules, not of what an install put there."""
        from server.trackgo.processor import TrackAdapterProcessor

        # copies are in a UNet only while an adapter is installed, and then so are its processors
        if any(isinstance(getattr(m, "processor", None), TrackAdapterProcessor) for m in unet.modules()):
            raise RuntimeError("unet: a TrackAdapter is installed; copy SVD's own temporal layers (remove it first)")
        names = temporal_module_names(unet)
        weights = cls(names, [copy.deepcopy(unet.get_submodule(name)) for name in names])
        if state is not None:
            weights.load_unet_state(state)
        return weights

    # ------------------------------------------------------------------ weights by UNet names
    def unet_state(self) -> dict[str, torch.Tensor]:
        """The copies' tensors under the UNet's parameter/buffer names."""
        return {f"{name}.{key}": tensor for name, module in zip(self.names, self.copies)
                for key, tensor in module.state_dict().items()}

    def load_unet_state(self, state: dict[str, torch.Tensor]) -> None:
        """Load a ``unet_state`` (e.g. from a file): every tensor must be there, nothing else."""
        own = self.unet_state()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(f"{TEMPORAL_WEIGHTS}: built for a different UNet (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]}; {len(missing)}/{len(unexpected)} in all)")
        for key, tensor in own.items():
            if tuple(state[key].shape) != tuple(tensor.shape):
                raise ValueError(f"{TEMPORAL_WEIGHTS}: {key} has shape {tuple(state[key].shape)}, "
                                 f"the UNet's is {tuple(tensor.shape)}")
        with torch.no_grad():
            for key, tensor in own.items():
                tensor.copy_(state[key])

    @staticmethod
    def write(state: dict[str, torch.Tensor], folder: str | Path) -> Path:
        """Write ``svd_temporal.safetensors`` into ``folder`` (a temp file renamed into place, so
        an interrupted save never leaves a half-written file under the real name)."""
        from safetensors.torch import save_file

        path = Path(folder) / TEMPORAL_WEIGHTS
        tmp = path.with_name(f".{path.name}.partial")
        save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp))
        os.replace(tmp, path)
        return path

    def freeze_query_key(self) -> None:
        """No gradient for the copies' temporal W_q / W_k: with ``svd_query_key`` copies in the
        adapter the original branch uses those instead, so these would get none (and DDP refuses
        parameters that never get one)."""
        for name, module in self.named_modules():
            if name.endswith(".attn1"):
                module.to_q.requires_grad_(False)
                module.to_k.requires_grad_(False)

    @staticmethod
    def read(folder: str | Path) -> dict[str, torch.Tensor] | None:
        """The tensors of ``folder``'s ``svd_temporal.safetensors``; None when it has none."""
        from safetensors.torch import load_file

        path = Path(folder) / TEMPORAL_WEIGHTS
        if not path.is_file():
            return None
        try:
            return load_file(str(path))
        except Exception as exc:                   # safetensors' own error type is not an OSError
            raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc

    # ------------------------------------------------------------------ swap in / out
    def install(self, unet: nn.Module) -> None:
        """Put the copies in the UNet in place of its temporal modules (the originals are kept)."""
        if self._originals:
            raise RuntimeError("temporal weights: already installed; call remove(unet) first")
        if temporal_module_names(unet) != self.names:
            raise ValueError("temporal weights: built for a different UNet (its temporal layers differ)")
        for name, module in zip(self.names, self.copies):
            parent, attr = _parent(unet, name)
            self._originals[name] = getattr(parent, attr)
            setattr(parent, attr, module)

    def remove(self, unet: nn.Module) -> None:
        """Put the UNet's own modules back."""
        for name in self.names:
            if name in self._originals:
                parent, attr = _parent(unet, name)
                setattr(parent, attr, self._originals.pop(name))
