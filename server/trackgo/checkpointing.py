"""Gradient checkpointing for SVD's temporal transformer blocks, which diffusers leaves out.

diffusers' ``enable_gradient_checkpointing`` checkpoints the resnets and the spatial transformer
blocks of SVD's UNet, but ``TransformerSpatioTemporalModel.forward`` (diffusers 0.42) runs every
``temporal_transformer_block`` plainly: their activations — and, in attn1, TrackGo's attention
maps — are all kept for the backward pass. At full size (25 frames, 1024x576, batch 1) that is
most of a training step's memory (docs/benchmarks.md, the H200 run). This module runs those
blocks under ``torch.utils.checkpoint`` (non-reentrant) as well.

A TrackAdapter's processors read the trajectory condition (and the Eq. 8 capture) from shared
state that is set only while the UNet's forward runs; the backward pass recomputes a block after
that. So the recomputation is given the forward's condition back, and a capture of its own that
is thrown away: the maps the loss uses are the ones the forward recorded.
"""
from __future__ import annotations

import types
from contextlib import contextmanager, nullcontext

import torch
from diffusers.models.attention import TemporalBasicTransformerBlock
from torch.utils.checkpoint import checkpoint

from server.trackgo.condition import AdapterState, AttentionCapture, TrackCondition
from server.trackgo.processor import TrackAdapterProcessor


def checkpoint_temporal_blocks(unet: torch.nn.Module) -> int:
    """Checkpoint every temporal transformer block now in ``unet`` (for a TrackAdapter with tuned
    temporal layers: call after ``install``, which swaps the copies in); returns how many.
    Blocks run plainly whenever gradients are off (generation, held-out evaluation)."""
    blocks = _temporal_blocks(unet)
    for block in blocks:
        # a bound method, not a closure: deepcopy of the block then copies the binding too
        block.forward = types.MethodType(_checkpointed_forward, block)
    return len(blocks)


def is_checkpointed(block: torch.nn.Module) -> bool:
    method = block.__dict__.get("forward")
    return getattr(method, "__func__", None) is _checkpointed_forward


def _temporal_blocks(unet: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in unet.modules() if isinstance(m, TemporalBasicTransformerBlock)]


def _checkpointed_forward(block, hidden_states, num_frames, encoder_hidden_states=None):
    plain = type(block).forward
    if not torch.is_grad_enabled():
        return plain(block, hidden_states, num_frames, encoder_hidden_states)
    processor = block.attn1.processor
    if isinstance(processor, TrackAdapterProcessor):
        state = processor.state
        condition, capture = state.condition, state.capture
        recompute = lambda: _as_in_forward(state, condition, None if capture is None else capture.full)  # noqa: E731
    else:
        recompute = nullcontext
    return checkpoint(plain, block, hidden_states, num_frames, encoder_hidden_states,
                      use_reentrant=False, context_fn=lambda: (nullcontext(), recompute()))


@contextmanager
def _as_in_forward(state: AdapterState, condition: TrackCondition | None, capture_full: bool | None):
    """The adapter's state as the forward saw it, with a throw-away capture (same kind)."""
    saved = state.condition, state.capture
    state.condition = condition
    state.capture = None if capture_full is None else AttentionCapture(full=capture_full)
    try:
        yield
    finally:
        state.condition, state.capture = saved
