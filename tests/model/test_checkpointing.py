"""Checkpointing the temporal transformer blocks (server/trackgo/checkpointing.py): the same
loss and gradients as without it, the Eq. 8 maps recorded once, less kept for the backward pass,
and generation untouched."""
from __future__ import annotations

import copy

import torch

from server.trackgo import freeze
from server.trackgo.checkpointing import checkpoint_temporal_blocks, is_checkpointed
from server.training.losses import attention_loss
from server.training.train import AdapterTrainingModule

from .helpers import moving_square
from .test_training_signal import FRAMES, adapter_for, square_masks, unet_inputs


def training_rig(unet):
    """The trainer's arrangement: frozen UNet in training mode with diffusers' checkpointing,
    an adapter with tuned W_q/W_k copies and tuned temporal layers, installed."""
    unet = freeze(unet)
    unet.enable_gradient_checkpointing()
    unet.train()
    adapter = adapter_for(unet, tune=True)
    adapter.tune_temporal(unet, trainable=True)
    adapter.install(unet)
    adapter.requires_grad_(True).train()
    return unet, adapter, AdapterTrainingModule(adapter, unet, 0.2)


def one_step(module, unet):
    """Loss, records and gradients of one L_mse + L_attn step; the bytes autograd kept."""
    kept = []

    def pack(t):
        kept.append(t.numel() * t.element_size())
        return t

    target = torch.randn(1, FRAMES, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    inputs = unet_inputs()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out, diagonals = module(*inputs[:2], inputs[2], inputs[3], moving_square(FRAMES)[None])
        loss = ((out - target) ** 2).mean() + 0.1 * attention_loss(diagonals, square_masks())
    loss.backward()
    grads = {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}
    module.zero_grad(set_to_none=True)
    return loss.item(), len(diagonals), grads, sum(kept)


def test_same_loss_and_gradients_with_the_temporal_blocks_checkpointed(tiny_unet):
    unet, adapter, module = training_rig(tiny_unet)
    plain = one_step(module, unet)
    count = checkpoint_temporal_blocks(unet)
    assert count == len(adapter.layers)              # one temporal block per adapter layer
    checkpointed = one_step(module, unet)
    assert checkpointed[0] == plain[0]
    assert checkpointed[1] == plain[1] == len(adapter.layers)   # maps recorded once, by the forward
    assert plain[2].keys() == checkpointed[2].keys()
    groups = {id(p): name for name, ps in adapter.parameter_groups().items() for p in ps}
    reached = {groups.get(id(p)) for name, p in module.named_parameters() if name in plain[2]}
    assert {"encoder", "alignment", "query_key", "svd_query_key", "svd_temporal"} <= reached
    for name, grad in plain[2].items():
        torch.testing.assert_close(checkpointed[2][name], grad, rtol=1e-5, atol=1e-7, msg=name)
    assert checkpointed[3] < 0.7 * plain[3], (checkpointed[3], plain[3])


def test_no_grad_runs_blocks_plainly_and_a_copy_stays_bound_to_itself(tiny_unet):
    unet, adapter, _ = training_rig(tiny_unet)
    unet.eval()
    with torch.no_grad(), adapter.condition(trajectories=moving_square(FRAMES)):
        before = unet(*unet_inputs()).sample
        checkpoint_temporal_blocks(unet)
        during = unet(*unet_inputs()).sample
    assert torch.equal(before, during)
    blocks = [m for m in unet.modules() if is_checkpointed(m)]
    assert len(blocks) == len(adapter.layers)
    twin = copy.deepcopy(blocks[0])                  # bound to the copy, not to the original block
    assert is_checkpointed(twin) and twin.forward.__self__ is twin
