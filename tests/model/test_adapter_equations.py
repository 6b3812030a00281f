"""TrackAdapter processor vs an independent float64 implementation of Eqs. 2-4, A_M, tau, CFG."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from server.trackgo.attention import aligned_mask, attention_mask_from_map, original_branch, tau_gate
from server.trackgo.condition import TrackCondition
from server.trackgo.config import MASK_VALUE

from .helpers import ProcessorRig
from .reference import reference_layer

FRAMES = 8


def random_inputs(rig, batch=1, size=(4, 6), cond_channels=8, seed=1, feature_scale=3.0):
    generator = torch.Generator().manual_seed(seed)
    height, width = size
    features = torch.randn(batch, FRAMES, cond_channels, height, width, generator=generator) * feature_scale
    factor = 2 ** rig.level
    rows = batch * (height // factor) * (width // factor)
    hidden = torch.randn(rows, FRAMES, rig.attn.to_q.in_features, generator=generator)
    return hidden, features


def relative_error(actual: torch.Tensor, expected: np.ndarray) -> float:
    actual = actual.detach().double().numpy()
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


@pytest.mark.parametrize("level", [0, 1])
def test_processor_matches_float64_equations(level):
    rig = ProcessorRig(channels=16, heads=2, level=level)
    hidden, features = random_inputs(rig)
    out, _ = rig.run(hidden, features, alpha=0.2, tau=0.0)
    expected, a_prime, _, _, _ = reference_layer(rig.attn, rig.layer, hidden, features, heads=2, level=level)
    # the threshold must be exercised on both sides, and no entry so close to alpha that
    # float32 vs float64 could legitimately disagree about the mask
    assert (a_prime >= 0.2).any() and (a_prime < 0.2).any()
    assert np.abs(a_prime - 0.2).min() > 1e-5
    assert relative_error(out, expected) < 1e-5


def test_mask_is_exactly_minus_1e4_where_a_prime_reaches_alpha():
    rig = ProcessorRig()
    hidden, features = random_inputs(rig)
    condition = TrackCondition(features, 0.2, 0.0, 1.0, True)
    tensors = rig.processor.layer_tensors(condition, hidden.shape[0], FRAMES, rig.heads, torch.float32, hidden.device)
    reached = tensors.a_prime >= 0.2
    assert reached.any() and (~reached).any()
    assert torch.all(tensors.a_mask[reached] == MASK_VALUE)
    assert torch.all(tensors.a_mask[~reached] == 0.0)
    assert MASK_VALUE == -1e4
    _, a_prime, _, _, _ = reference_layer(rig.attn, rig.layer, hidden, features, heads=rig.heads)
    assert torch.equal(reached, torch.from_numpy(a_prime >= 0.2))


def test_aligned_mask_keeps_values_and_gives_the_same_attention():
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(6, 2, 25, 8, generator=generator) for _ in range(3))
    mask = torch.where(torch.rand(6, 2, 25, 25, generator=generator) > 0.7, MASK_VALUE, 0.0)
    aligned = aligned_mask(mask)
    assert torch.equal(aligned, mask) and aligned.stride(-2) == 32
    plain, _ = original_branch(q, k, v, mask)
    padded, _ = original_branch(q, k, v, aligned)
    torch.testing.assert_close(padded, plain, rtol=1e-6, atol=1e-6)
    already = torch.zeros(2, 16, 16)
    assert aligned_mask(already) is already


def test_mask_in_float16_holds_the_exact_value():
    a_prime = torch.tensor([[0.05, 0.2, 0.75]])
    mask = attention_mask_from_map(a_prime, 0.2, dtype=torch.float16)
    assert mask.dtype == torch.float16
    assert mask.tolist() == [[0.0, -10000.0, -10000.0]]


def test_tau_gate_endpoints_and_monotonicity():
    assert tau_gate(0.0) == 1.0
    assert tau_gate(-1e4) == 0.0
    values = [tau_gate(t) for t in (0.0, -1e-3, -1.0, -10.0, -1e2, -1e3, -5e3, -1e4)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert 0.45 < tau_gate(-1e2) < 0.55
    for bad in (1.0, -2e4, float("nan")):
        with pytest.raises(ValueError, match="tau"):
            tau_gate(bad)


def background_and_track_features(seed=3):
    """Half the locations carry a strongly time-varying f (a trajectory passes), the other
    half a constant f (black background of P): A' is uniform (1/L < alpha) there."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.zeros(1, FRAMES, 8, 4, 6)
    features[..., :, :3] = torch.randn(1, FRAMES, 8, 4, 3, generator=generator) * 6.0
    features[..., :, 3:] = torch.randn(1, 1, 8, 4, 3, generator=generator)  # same for every frame
    return features


def test_tau_zero_is_exactly_eqs_2_to_4_and_decreasing_tau_removes_the_original_branch():
    rig = ProcessorRig(channels=16, heads=1)
    hidden, _ = random_inputs(rig)
    features = background_and_track_features()
    taus = [0.0, -1.0, -10.0, -1e2, -1e3, -1e4]
    outputs = {tau: rig.run(hidden, features, tau=tau)[0] for tau in taus}

    expected, a_prime, unspecified, av, apv = reference_layer(rig.attn, rig.layer, hidden, features, heads=1)
    rows_unspecified = unspecified[:, 0, :, 0]                    # (rows, L), one head
    assert rows_unspecified.any() and (~rows_unspecified).any()
    assert relative_error(outputs[0.0], expected) < 1e-5          # tau = 0: Eqs. 2-4 exactly

    # what the adapter branch alone gives (to_out of A'V): the original branch is the rest
    w_out = rig.attn.to_out[0].weight.detach().double().numpy()
    b_out = rig.attn.to_out[0].bias.detach().double().numpy()
    adapter_only = apv.transpose(0, 2, 1, 3).reshape(hidden.shape) @ w_out.T + b_out
    contribution = []
    for tau in taus:
        out = outputs[tau].double().numpy()
        contribution.append(np.linalg.norm((out - adapter_only)[rows_unspecified]))
        # specified rows never change with tau
        assert torch.equal(outputs[tau][torch.from_numpy(~rows_unspecified)],
                           outputs[0.0][torch.from_numpy(~rows_unspecified)])
    assert contribution[0] > 0.1
    assert all(a > b for a, b in zip(contribution, contribution[1:]))
    assert contribution[-1] < 1e-5 * contribution[0]


def test_same_trajectories_for_both_guidance_halves():
    rig = ProcessorRig()
    single, features = random_inputs(rig, batch=1)
    other = torch.randn_like(single)
    doubled, _ = rig.run(torch.cat([single, other]), features)
    first, _ = rig.run(single, features)
    second, _ = rig.run(other, features)
    torch.testing.assert_close(doubled, torch.cat([first, second]), rtol=1e-5, atol=1e-6)


def test_cache_is_filled_once_and_matches_recomputing():
    rig = ProcessorRig()
    hidden, features = random_inputs(rig)
    condition = TrackCondition(features, 0.2, -10.0, tau_gate(-10.0), cache=True)
    rig.state.condition = condition
    with torch.no_grad():
        first = rig.processor(rig.attn, hidden)
        cached = dict(condition.layers)
        second = rig.processor(rig.attn, hidden * 0.5)
    assert len(condition.layers) == 1 and condition.layers.keys() == cached.keys()
    assert next(iter(condition.layers.values())) is next(iter(cached.values()))
    recomputed, no_cache = rig.run(hidden * 0.5, features, tau=-10.0, cache=False)
    assert no_cache.layers == {}
    torch.testing.assert_close(second, recomputed, rtol=0, atol=0)
    assert not torch.equal(first, second)


def test_processor_refuses_to_run_without_a_condition():
    rig = ProcessorRig()
    hidden, _ = random_inputs(rig)
    with pytest.raises(RuntimeError, match="no trajectory condition"):
        rig.processor(rig.attn, hidden)


def test_frame_count_mismatch_is_a_clear_error():
    rig = ProcessorRig()
    hidden, features = random_inputs(rig)
    with pytest.raises(ValueError, match="trajectories: have 8 frames"):
        rig.run(hidden[:, :5], features)
