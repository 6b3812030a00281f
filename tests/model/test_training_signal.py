"""What training needs from the adapter at initialisation: f that varies over frames, a
gradient far above Adam's epsilon, L_attn with a gradient into what it penalises (Eq. 9), a
mask that does not depend on the model's dtype, and a threshold that means something for
short clips. Each test fails on the code that an outside run found not learning."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from server.trackgo import TrackAdapter, freeze
from server.trackgo.attention import effective_alpha
from server.trackgo.condition import TrackCondition
from server.trackgo.tiny import TINY_CONDITION_CHANNELS, TINY_ENCODER_CHANNELS
from server.training.losses import attention_loss

from .helpers import ProcessorRig, moving_square

FRAMES = 6


def unet_inputs(batch=1, frames=FRAMES, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, frames, 8, 8, 8, generator=g), torch.tensor(1.0),
            torch.randn(batch, 1, 32, generator=g), torch.tensor([[6.0, 127.0, 0.02]] * batch))


def adapter_for(unet, tune=False, seed=1):
    torch.manual_seed(seed)
    return TrackAdapter.from_unet(unet, TINY_CONDITION_CHANNELS, TINY_ENCODER_CHANNELS,
                                  tune_base_query_key=tune)


def square_masks(frames=FRAMES, size=64, start=8, step=4):
    """The moving component's mask per frame, matching ``moving_square``."""
    masks = torch.zeros(1, frames, size, size)
    for i in range(frames):
        masks[0, i, 16:28, start + step * i - 4:start + step * i + 8] = 1.0
    return masks


def test_f_is_zero_on_black_and_varies_over_frames_along_the_trajectory(tiny_unet):
    f = adapter_for(tiny_unet).encode(moving_square(FRAMES))[0]          # (L, C, 8, 8)
    assert torch.all(f[:, :, 6:, :] == 0)                   # rows 48..63 of P are black in every frame
    temporal = f.std(dim=0).norm(dim=0)                     # per cell: how much f changes over frames
    mean = f.mean(dim=0).norm(dim=0)
    moving = temporal > 0
    assert moving.any()
    # default PyTorch init gave ~1e-5 here (NOTES.md section 10): A' started uniform
    assert (temporal[moving] / (mean[moving] + temporal[moving])).max() > 0.3


def test_adapter_gradient_at_init_is_far_above_adams_epsilon(tiny_unet):
    unet = freeze(tiny_unet)
    adapter = adapter_for(unet)
    adapter.install(unet)
    inputs = unet_inputs()
    target = torch.randn(1, FRAMES, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    with adapter.condition(trajectories=moving_square(FRAMES)):
        loss = ((unet(*inputs).sample - target) ** 2).mean()
    loss.backward()
    for name, params in adapter.parameter_groups().items():
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params)).item()
        # the outside run measured ~4e-8 (below AdamW's eps 1e-8 per element: weight decay only)
        assert norm > 1e-5, (name, norm)


def test_attention_loss_reaches_the_original_branch_query_key_it_penalises(tiny_unet):
    unet = freeze(tiny_unet)
    adapter = adapter_for(unet, tune=True)
    adapter.install(unet)
    with adapter.condition(trajectories=moving_square(FRAMES)), adapter.capture_attention() as capture:
        unet(*unet_inputs())
    loss = attention_loss([r.diagonal for r in capture.records], square_masks())
    assert loss.item() > 0
    loss.backward()
    groups = adapter.parameter_groups()
    assert len(groups["svd_query_key"]) == 2 * len(adapter.layers)
    for p in groups["svd_query_key"]:
        assert p.grad is not None and p.grad.abs().max() > 0
    assert all(p.grad is None for p in unet.parameters())


def test_fine_tuned_copies_start_equal_to_svd_and_leave_the_unet_untouched(tiny_unet):
    unet = freeze(tiny_unet)
    tuned, plain = adapter_for(unet, tune=True), adapter_for(unet, tune=False)
    plain.load_state_dict({k: v for k, v in tuned.state_dict().items() if ".base_" not in k})
    outputs = []
    for adapter in (tuned, plain):
        adapter.install(unet)
        with torch.no_grad(), adapter.condition(trajectories=moving_square(FRAMES)):
            outputs.append(unet(*unet_inputs()).sample)
        adapter.remove(unet)
    assert torch.equal(outputs[0], outputs[1])
    with torch.no_grad():
        tuned.layers[0].base_q.weight.mul_(3.0)
    tuned.install(unet)
    with torch.no_grad(), tuned.condition(trajectories=moving_square(FRAMES)):
        changed = unet(*unet_inputs()).sample
    assert not torch.allclose(changed, outputs[0])
    assert not torch.equal(tuned.layers[0].base_q.weight, unet.get_submodule(tuned.config.layer_names[0]).to_q.weight)


def test_enable_base_query_key_adds_the_copies_to_a_loaded_adapter(tiny_unet, tmp_path):
    adapter = adapter_for(tiny_unet)
    assert "svd_query_key" not in adapter.parameter_groups()
    adapter.enable_base_query_key(tiny_unet)
    assert adapter.config.tune_base_query_key
    assert len(adapter.parameter_groups()["svd_query_key"]) == 2 * len(adapter.layers)
    adapter.save_pretrained(tmp_path / "a")
    loaded = TrackAdapter.from_pretrained(tmp_path / "a")
    for (k, a), (_, b) in zip(adapter.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k


def test_captured_map_is_the_masked_one():
    """L_attn penalises A of Eq. 4 (after A_M): where the adapter claims the diagonal, the
    captured A(i, i) is ~0, while the unmasked softmax(QK^T/sqrt d) has it well above 0."""
    rig = ProcessorRig(channels=16, heads=2, cond_channels=8)
    with torch.no_grad():                                   # A' = identity-like: each frame distinct
        rig.layer.align.weight.copy_(torch.cat([torch.eye(8), torch.eye(8)]))  # both heads
        rig.layer.align.bias.zero_()
        rig.layer.to_q.weight.copy_(torch.eye(16) * 8.0)
        rig.layer.to_k.weight.copy_(torch.eye(16) * 8.0)
    features = torch.zeros(1, FRAMES, 8, 2, 2)
    for i in range(FRAMES):
        features[0, i, i % 8] = 1.0
    hidden = torch.randn(4, FRAMES, 16, generator=torch.Generator().manual_seed(0))
    from server.trackgo.condition import AttentionCapture

    rig.state.capture = AttentionCapture()
    rig.run(hidden, features)
    diagonal = rig.state.capture.records[0].diagonal
    assert diagonal.max() < 1e-3
    q = rig.attn.to_q(hidden).view(4, FRAMES, 2, 8).transpose(1, 2)
    k = rig.attn.to_k(hidden).view(4, FRAMES, 2, 8).transpose(1, 2)
    unmasked = torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5, dim=-1)
    assert torch.diagonal(unmasked, dim1=-2, dim2=-1).mean() > 0.05


@pytest.mark.parametrize("frames", range(2, 31))
def test_alpha_stays_above_uniform_for_every_length_and_is_the_papers_from_six_frames(frames):
    alpha = effective_alpha(0.2, frames)
    assert alpha >= 1.2 / frames - 1e-12 and alpha > 1.0 / frames
    if frames >= 6:
        assert alpha == 0.2
    assert effective_alpha(0.5, frames) == max(0.5, 1.2 / frames)


@pytest.mark.parametrize("frames", [2, 3, 4, 5])
def test_short_clips_leave_unclaimed_rows_unmasked(frames):
    rig = ProcessorRig(channels=16, heads=2, cond_channels=8)
    features = torch.zeros(1, frames, 8, 2, 2)              # black P: f = 0, A' uniform (1/L)
    condition = TrackCondition(features, 0.2, 0.0, 1.0, True)
    tensors = rig.processor.layer_tensors(condition, 4, frames, 2, torch.float32, torch.device("cpu"))
    torch.testing.assert_close(tensors.a_prime, torch.full_like(tensors.a_prime, 1.0 / frames))
    assert torch.all(tensors.a_mask == 0)
    with pytest.raises(ValueError, match="frames: expected at least 2"):
        effective_alpha(0.2, 1)


def test_mask_is_identical_in_half_and_single_precision():
    rig = ProcessorRig(channels=64, heads=4, cond_channels=16)
    rig.layer.half().float()                               # weights a half-precision file can hold
    g = torch.Generator().manual_seed(5)
    features = torch.randn(2, 14, 16, 6, 6, generator=g) * 2.0
    masks, maps = {}, {}
    for dtype in (torch.float16, torch.bfloat16, torch.float32):
        rig.layer.to(dtype)
        condition = TrackCondition(features, 0.2, 0.0, 1.0, True)
        tensors = rig.processor.layer_tensors(condition, 72, 14, 4, dtype, torch.device("cpu"))
        masks[dtype] = tensors.a_mask != 0
        maps[dtype] = tensors.a_prime
    near = (maps[torch.float32] - 0.2).abs() < 1e-3
    assert masks[torch.float32].any() and (~masks[torch.float32]).any() and near.any()
    assert torch.equal(masks[torch.float16], masks[torch.float32])
    assert torch.equal(masks[torch.bfloat16], masks[torch.float32])


def test_encoder_features_do_not_depend_on_the_weights_dtype(tiny_unet):
    adapter = adapter_for(tiny_unet)
    adapter.half().float()
    f32 = adapter.encode(moving_square(FRAMES))
    f16 = adapter.half().encode(moving_square(FRAMES))
    assert f16.dtype == torch.float32 and torch.equal(f16, f32)
    assert np.isfinite(f32.detach().numpy()).all()
