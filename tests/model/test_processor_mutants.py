"""TrackAdapterProcessor and its attention arithmetic, checked piece by piece against the paper's
Eqs. 2-4 (and our tau gate) written out here with plain float64 torch ops: the pooling of f to
each layer's size, the row layout, the threshold's exact boundary, the cache key, the guidance
repeats, the captured maps, the error messages. Tiny shapes: this is also the mutation-score
selection of ``server/trackgo/processor.py`` and ``attention.py`` (``python3 dev.py mutants``)."""
from __future__ import annotations

import math
import os

import pytest
import torch
from diffusers.models.attention_processor import Attention

from server.trackgo.adapter import TrackAdapterLayer
from server.trackgo.attention import (SHORT_CLIP_MARGIN, adapter_attention_map, aligned_mask,
                                      attention_mask_from_map, effective_alpha, original_branch, unspecified_rows)
from server.trackgo.condition import AdapterState, AttentionCapture, TrackCondition
from server.trackgo.processor import TrackAdapterProcessor, _project, layer_resolution
from server.motion.tau import tau_gate

FRAMES = 6

if "MUTANT_UNDER_TEST" in os.environ:
    # mutmut forks a worker per mutant from the process that collected and ran these tests; a
    # forked child hangs on torch's intra-op thread pool if the parent started one (every mutant
    # then "times out", which mutmut counts as killed). One thread keeps the fork safe.
    torch.set_num_threads(1)


# ----------------------------------------------------------------------------- the reference
def pool_windows(features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, L, C, H, W) -> (B, L, C, height, width): output cell (i, j) is the mean of input rows
    floor(i H / height) .. ceil((i + 1) H / height) - 1 (and the same for columns)."""
    big_h, big_w = features.shape[-2:]
    out = torch.empty(*features.shape[:-2], height, width, dtype=torch.float64)
    for i in range(height):
        r0, r1 = (i * big_h) // height, -((-(i + 1) * big_h) // height)
        for j in range(width):
            c0, c1 = (j * big_w) // width, -((-(j + 1) * big_w) // width)
            out[..., i, j] = features[..., r0:r1, c0:c1].double().mean(dim=(-2, -1))
    return out


def softmax(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)


def reference(attn, layer, hidden, features, heads, level, alpha=0.2, gate=1.0, base=None):
    """Eqs. 2-4 for one temporal layer, float64. Returns (output, A', A, A_M, unspecified rows)."""
    w = lambda m: m.weight.detach().double()
    x = hidden.detach().double()
    rows, frames, channels = x.shape
    batch_f = features.shape[0]
    height, width = features.shape[-2:]
    for _ in range(level):                                  # stride-2, padding-1 convs round up
        height, width = -(-height // 2), -(-width // 2)
    f = pool_windows(features, height, width)               # (B, L, C, h, w)
    per_row = torch.stack([f[b, :, :, y, xx] for b in range(batch_f)
                           for y in range(height) for xx in range(width)])      # row b*h*w + y*w + x
    per_row = torch.cat([per_row] * (rows // per_row.shape[0]))                  # guidance repeats
    d = channels // heads
    split = lambda t: t.reshape(rows, frames, heads, d).permute(0, 2, 1, 3)
    aligned = per_row @ w(layer.align).T + layer.align.bias.detach().double()
    q_prime, k_prime = split(aligned @ w(layer.to_q).T), split(aligned @ w(layer.to_k).T)
    a_prime = softmax(q_prime @ k_prime.transpose(-1, -2) / math.sqrt(d))       # Eq. 2
    threshold = max(alpha, 1.2 / frames)
    a_mask = torch.where(a_prime >= threshold, -1e4, 0.0)                        # Eq. 3
    wq, wk = (base or (attn.to_q, attn.to_k))
    q, k, v = split(x @ w(wq).T), split(x @ w(wk).T), split(x @ w(attn.to_v).T)
    a = softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + a_mask)                # Eq. 4
    unspecified = a_prime.max(dim=-1, keepdim=True).values < threshold
    gated = torch.where(unspecified, gate * a, a)
    o = (gated @ v + a_prime @ v).permute(0, 2, 1, 3).reshape(rows, frames, channels)
    out = o @ w(attn.to_out[0]).T + attn.to_out[0].bias.detach().double()
    if attn.residual_connection:
        out = out + x
    return out / attn.rescale_output_factor, a_prime, a, a_mask, unspecified


class Rig:
    def __init__(self, channels=8, heads=2, cond=4, level=0, seed=0, tune_base=False, **attn_kwargs):
        torch.manual_seed(seed)
        self.attn = Attention(query_dim=channels, heads=heads, dim_head=channels // heads, **attn_kwargs)
        self.layer = TrackAdapterLayer(cond, channels, tune_base=tune_base)
        with torch.no_grad():                       # A' far from uniform: the threshold splits rows
            self.layer.to_q.weight.mul_(4.0)
            self.layer.to_k.weight.mul_(4.0)
        self.state = AdapterState()
        self.processor = TrackAdapterProcessor(self.layer, 3, "blocks.7.attn1", level, self.state)
        self.heads, self.level, self.cond = heads, level, cond

    def inputs(self, latent=(3, 4), batch=1, repeats=1, seed=1, frames=FRAMES, static_right=False):
        g = torch.Generator().manual_seed(seed)
        features = torch.randn(batch, frames, self.cond, *latent, generator=g) * 3.0
        if static_right:                            # a constant f (black P) on the right half
            features[..., latent[1] // 2:] = torch.randn(batch, 1, self.cond, latent[0],
                                                         latent[1] - latent[1] // 2, generator=g)
        h, w = layer_resolution(latent, self.level)
        hidden = torch.randn(batch * repeats * h * w, frames, self.attn.to_q.in_features, generator=g)
        return hidden, features

    def run(self, hidden, features, alpha=0.2, tau=0.0, capture=None):
        self.state.condition = TrackCondition(features, alpha, tau, tau_gate(tau), True)
        self.state.capture = capture
        try:
            with torch.no_grad():
                return self.processor(self.attn, hidden)
        finally:
            self.state.condition = None
            self.state.capture = None

    def tensors(self, features, rows, frames=FRAMES, alpha=0.2, tau=0.0, dtype=torch.float32, cache=True):
        condition = TrackCondition(features, alpha, tau, tau_gate(tau), cache)
        with torch.no_grad():
            return self.processor.layer_tensors(condition, rows, frames, self.heads, dtype, torch.device("cpu"))


def close(actual, expected, tol=1e-5):
    actual = actual.detach().double()
    err = (actual - expected).norm() / expected.norm()
    assert err < tol, f"relative error {err:.3g}"


def assert_split(a_prime, threshold):
    """The threshold really separates entries, and none sits so close float32 could flip it."""
    assert (a_prime >= threshold).any() and (a_prime < threshold).any()
    assert (a_prime - threshold).abs().min() > 1e-5


# ----------------------------------------------------------------------------- attention.py
def test_effective_alpha_is_the_papers_alpha_from_six_frames_and_20_percent_over_uniform_below():
    assert SHORT_CLIP_MARGIN == 1.2
    assert effective_alpha(0.2, 6) == 0.2 and effective_alpha(0.2, 14) == 0.2
    assert effective_alpha(0.2, 5) == pytest.approx(0.24, abs=1e-12)
    assert effective_alpha(0.2, 4) == pytest.approx(0.3, abs=1e-12)
    assert effective_alpha(0.2, 2) == pytest.approx(0.6, abs=1e-12)
    assert effective_alpha(0.7, 2) == 0.7
    value = effective_alpha(1, 25)
    assert value == 1.0 and type(value) is float


def test_effective_alpha_refuses_one_frame_naming_frames():
    with pytest.raises(ValueError) as info:
        effective_alpha(0.2, 1)
    assert str(info.value) == "frames: expected at least 2 for temporal attention, got 1"


def test_adapter_attention_map_is_eq_2_in_float32():
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(3, 2, 5, 4, generator=g) * 2, torch.randn(3, 2, 5, 4, generator=g) * 2
    expected = softmax(q.double() @ k.double().transpose(-1, -2) / math.sqrt(4))
    got = adapter_attention_map(q.half(), k.half())
    assert got.dtype == torch.float32 and got.shape == (3, 2, 5, 5)
    close(adapter_attention_map(q, k), expected, 1e-6)
    close(got, softmax(q.half().double() @ k.half().double().transpose(-1, -2) / 2.0), 1e-6)


def test_mask_boundary_entry_equal_to_alpha_is_masked_and_dtype_follows_the_map():
    a_prime = torch.tensor([[0.1, 0.25, 0.65], [0.25 - 1e-7, 0.5, 0.25 + 1e-7]], dtype=torch.float64)
    mask = attention_mask_from_map(a_prime, 0.25)
    assert mask.dtype == torch.float64
    assert mask.tolist() == [[0.0, -1e4, -1e4], [0.0, -1e4, -1e4]]
    assert attention_mask_from_map(a_prime, 0.25, dtype=torch.bfloat16).dtype == torch.bfloat16


def test_unspecified_rows_are_those_entirely_below_alpha():
    a_prime = torch.tensor([[[0.2, 0.3, 0.5], [0.3, 0.35, 0.35], [0.34, 0.33, 0.33]]])
    rows = unspecified_rows(a_prime, 0.35)
    assert rows.shape == (1, 3, 1) and rows.dtype == torch.bool
    assert rows[0, :, 0].tolist() == [False, False, True]       # 0.35 itself reaches alpha


def test_aligned_mask_pads_rows_to_the_multiple_only_when_needed():
    mask = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    for multiple, stride in ((16, 16), (8, 8), (4, 8), (5, 5)):
        out = aligned_mask(mask, multiple)
        assert torch.equal(out, mask) and out.shape == mask.shape
        assert out.stride(-2) == stride, multiple
    assert aligned_mask(mask, 5) is mask
    wide = torch.randn(1, 17, 17)
    assert aligned_mask(wide).stride(-2) == 32 and torch.equal(aligned_mask(wide), wide)


@pytest.mark.parametrize("return_map", [False, True])
def test_original_branch_is_eq_4_times_v(return_map):
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(3, 2, 5, 4, generator=g) for _ in range(3))
    a_mask = torch.where(torch.rand(3, 2, 5, 5, generator=g) > 0.6, -1e4, 0.0)
    a_mask[..., 0] = 0.0                    # no row wholly masked: float32 cannot add -1e4 exactly
    a = softmax(q.double() @ k.double().transpose(-1, -2) / 2.0 + a_mask.double())
    out, attention = original_branch(q, k, v, a_mask, return_map=return_map)
    assert original_branch(q, k, v, a_mask)[1] is None          # by default the fused kernel, no map
    close(out, a @ v.double(), 1e-5)
    if return_map:
        close(attention, a, 1e-6)
    else:
        assert attention is None


# ----------------------------------------------------------------------------- processor.py
def test_layer_resolution_rounds_up_at_every_level():
    assert layer_resolution((5, 7), 0) == (5, 7)
    assert layer_resolution((5, 7), 1) == (3, 4)
    assert layer_resolution((5, 7), 2) == (2, 2)
    assert layer_resolution((9, 16), 3) == (2, 2)
    assert layer_resolution((8, 6), 1) == (4, 3)


@pytest.mark.parametrize("level,latent,batch", [(0, (3, 4), 2), (1, (5, 7), 1), (2, (5, 7), 2)])
def test_processor_output_and_maps_match_the_equations(level, latent, batch):
    rig = Rig(level=level)
    hidden, features = rig.inputs(latent, batch=batch)
    expected, a_prime, _, a_mask, _ = reference(rig.attn, rig.layer, hidden, features, 2, level)
    assert_split(a_prime, 0.2)
    close(rig.run(hidden, features), expected)
    tensors = rig.tensors(features, hidden.shape[0])
    assert tensors.repeats == 1 and tensors.gate is None
    close(tensors.a_prime, a_prime, 1e-5)
    assert torch.equal(tensors.a_mask, a_mask.float())
    assert tensors.a_mask.is_contiguous()                  # on the CPU: no CUDA row alignment


def test_short_clip_uses_the_raised_threshold():
    rig = Rig()
    hidden, features = rig.inputs(frames=4)
    expected, a_prime, _, a_mask, _ = reference(rig.attn, rig.layer, hidden, features, 2, 0)
    assert ((a_prime >= 0.2) & (a_prime < 0.3)).any()       # entries the paper's 0.2 would mask
    tensors = rig.tensors(features, hidden.shape[0], frames=4)
    assert torch.equal(tensors.a_mask, a_mask.float())
    close(rig.run(hidden, features), expected)


def test_tau_gate_scales_the_original_branch_in_unspecified_rows_only():
    rig = Rig(heads=1)
    hidden, features = rig.inputs((2, 4), static_right=True)
    tau = -100.0
    gate = tau_gate(tau)
    expected, a_prime, _, _, unspecified = reference(rig.attn, rig.layer, hidden, features, 1, 0, gate=gate)
    assert unspecified.any() and (~unspecified).any()
    close(rig.run(hidden, features, tau=tau), expected)
    tensors = rig.tensors(features, hidden.shape[0], tau=tau)
    assert tensors.gate.shape == (8, 1, FRAMES, 1) and tensors.gate.dtype == torch.float32
    want = torch.where(unspecified, gate, 1.0).float()
    assert torch.equal(tensors.gate, want)
    assert rig.tensors(features, hidden.shape[0], tau=0.0).gate is None


def test_guidance_repeats_share_the_maps_and_the_gate():
    rig = Rig()
    hidden, features = rig.inputs((2, 3), batch=2, repeats=2, static_right=True)
    gate = tau_gate(-10.0)
    expected, a_prime, _, a_mask, _ = reference(rig.attn, rig.layer, hidden, features, 2, 0, gate=gate)
    close(rig.run(hidden, features, tau=-10.0), expected)
    tensors = rig.tensors(features, hidden.shape[0], tau=-10.0)
    assert tensors.repeats == 2
    assert tensors.a_prime.shape == (12, 2, FRAMES, FRAMES) and tensors.a_mask.shape == (24, 2, FRAMES, FRAMES)
    assert torch.equal(tensors.a_mask, a_mask.float())


def test_half_precision_model_gets_its_maps_from_float32():
    rig = Rig()
    rig.attn.to(torch.bfloat16)
    rig.layer.to(torch.bfloat16)
    hidden, features = rig.inputs()
    _, a_prime, _, a_mask, _ = reference(rig.attn, rig.layer, hidden.bfloat16(), features.bfloat16(), 2, 0)
    assert_split(a_prime, 0.2)
    tensors = rig.tensors(features.bfloat16(), hidden.shape[0], dtype=torch.bfloat16)
    assert tensors.a_prime.dtype == torch.bfloat16 and tensors.a_mask.dtype == torch.bfloat16
    assert torch.equal(tensors.a_mask, a_mask.bfloat16())
    close(tensors.a_prime, a_prime.bfloat16().double(), 1e-7)
    out = rig.run(hidden.bfloat16(), features.bfloat16())
    assert out.dtype == torch.bfloat16 and out.shape == hidden.shape
    gated = rig.tensors(features.bfloat16(), hidden.shape[0], tau=-10.0, dtype=torch.bfloat16)
    assert gated.gate.dtype == torch.bfloat16                      # the gate in the model's dtype too
    assert rig.run(hidden.bfloat16(), features.bfloat16(), tau=-10.0).dtype == torch.bfloat16


def test_fine_tuned_query_key_copies_replace_the_layers_own():
    rig = Rig(tune_base=True)
    hidden, features = rig.inputs()
    expected, *_ = reference(rig.attn, rig.layer, hidden, features, 2, 0,
                             base=(rig.layer.base_q, rig.layer.base_k))
    own, *_ = reference(rig.attn, rig.layer, hidden, features, 2, 0)
    out = rig.run(hidden, features)
    close(out, expected)
    assert (out.double() - own).abs().max() > 1e-3


def test_a_copy_in_another_precision_is_applied_in_its_own_and_returned_in_the_inputs():
    linear = torch.nn.Linear(4, 3, bias=False)
    x = torch.randn(2, 5, 4).bfloat16()
    out = _project(linear, x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, (x.float() @ linear.weight.detach().T).bfloat16(), rtol=0, atol=0)
    same = torch.randn(2, 5, 4)
    torch.testing.assert_close(_project(linear, same), linear(same), rtol=0, atol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert _project(linear, x).dtype == torch.bfloat16


def test_residual_connection_and_output_rescale_are_honoured():
    rig = Rig(residual_connection=True, rescale_output_factor=2.0)
    hidden, features = rig.inputs()
    expected, *_ = reference(rig.attn, rig.layer, hidden, features, 2, 0)
    close(rig.run(hidden, features), expected)


def test_capture_records_the_original_branch_diagonal_laid_out_for_the_masks():
    rig = Rig(level=1)
    hidden, features = rig.inputs((3, 4), batch=1, repeats=2)
    _, _, a, _, _ = reference(rig.attn, rig.layer, hidden, features, 2, 1)
    plain = rig.run(hidden, features)
    for full in (False, True):
        capture = AttentionCapture(full=full)
        out = rig.run(hidden, features, capture=capture)
        torch.testing.assert_close(out, plain, rtol=1e-5, atol=1e-6)
        (record,) = capture.records
        assert record.name == "blocks.7.attn1" and record.level == 1
        h, w = 2, 2
        assert record.diagonal.shape == (2, 2, FRAMES, h, w)      # (batch incl. repeats, heads, L, h, w)
        for b in range(2):
            for y in range(h):
                for x in range(w):
                    row = b * h * w + y * w + x
                    want = torch.diagonal(a[row], dim1=-2, dim2=-1)           # (heads, L)
                    close(record.diagonal[b, :, :, y, x], want, 1e-5)
                    if full:
                        close(record.full[b, y, x], a[row], 1e-5)
        if full:
            assert record.full.shape == (2, h, w, 2, FRAMES, FRAMES)
        else:
            assert record.full is None


def test_cache_key_and_cache_switch():
    rig = Rig()
    hidden, features = rig.inputs()
    rows = hidden.shape[0]
    condition = TrackCondition(features, 0.2, 0.0, 1.0, cache=True)
    device = torch.device("cpu")
    first = rig.processor.layer_tensors(condition, rows, FRAMES, 2, torch.float32, device)
    assert list(condition.layers) == [(3, rows, FRAMES, 2, torch.float32, device)]
    assert rig.processor.layer_tensors(condition, rows, FRAMES, 2, torch.float32, device) is first
    other = rig.processor.layer_tensors(condition, rows, FRAMES, 2, torch.float64, device)
    assert other is not first and len(condition.layers) == 2 and other.a_mask.dtype == torch.float64
    # cache off: neither read nor written
    off = TrackCondition(features, 0.2, 0.0, 1.0, cache=False)
    sentinel = object()
    off.layers[(3, rows, FRAMES, 2, torch.float32, device)] = sentinel
    fresh = rig.processor.layer_tensors(off, rows, FRAMES, 2, torch.float32, device)
    assert fresh is not sentinel and len(off.layers) == 1
    assert torch.equal(fresh.a_mask, first.a_mask)


def test_refuses_to_run_without_a_condition_naming_the_layer_and_the_fix():
    rig = Rig()
    hidden, _ = rig.inputs()
    with pytest.raises(RuntimeError) as info, torch.no_grad():
        rig.processor(rig.attn, hidden)
    assert str(info.value) == ("TrackAdapter on blocks.7.attn1: no trajectory condition is set; run the UNet "
                               "inside `with adapter.condition(trajectories=...)`")


@pytest.mark.parametrize("case", ["encoder_states", "attention_mask", "four_dims"])
def test_refuses_anything_but_temporal_self_attention(case):
    rig = Rig()
    hidden, features = rig.inputs()
    kwargs = {"encoder_states": {"encoder_hidden_states": hidden},
              "attention_mask": {"attention_mask": torch.zeros(1)},
              "four_dims": {}}[case]
    x = hidden[None] if case == "four_dims" else hidden
    rig.state.condition = TrackCondition(features, 0.2, 0.0, 1.0, True)
    with pytest.raises(ValueError) as info, torch.no_grad():
        rig.processor(rig.attn, x, **kwargs)
    assert str(info.value) == ("TrackAdapter on blocks.7.attn1: expected temporal self-attention input "
                               "(rows, frames, C)")


def test_frame_count_mismatch_names_both_counts():
    rig = Rig()
    hidden, features = rig.inputs()
    with pytest.raises(ValueError) as info:
        rig.run(hidden[:, :5], features)
    assert str(info.value) == "trajectories: have 6 frames but the UNet runs 5 frames"


@pytest.mark.parametrize("rows,batch", [(13, 1), (12 * 3, 2), (12 * 2 + 1, 1)])
def test_rows_that_do_not_fit_the_latent_and_batch_are_refused(rows, batch):
    rig = Rig()
    _, features = rig.inputs((3, 4), batch=batch)
    with pytest.raises(ValueError) as info:
        rig.tensors(features, rows)
    assert str(info.value) == (f"trajectories: latent size (3, 4) and batch {batch} do not match layer "
                               f"blocks.7.attn1 ({rows} rows at 3x4)")
