"""L_attn against a direct loop over Eq. 8, and the EDM preconditioning against diffusers."""
from __future__ import annotations

import numpy as np
import torch

from server.training.losses import attention_loss, denoising_loss
from server.training.noise import EDMSchedule


def direct_eq8(diagonals, masks):
    """Eq. 8 term by term: for every layer, batch, head, frame and cell, (A(i,i) * phi(M_i))^2."""
    total = 0.0
    m = masks.numpy().astype(np.float64)
    for d in diagonals:
        d = d.numpy().astype(np.float64)
        b, heads, frames, h, w = d.shape
        H, W = m.shape[2:]
        layer = 0.0
        for bi in range(b):
            for hd in range(heads):
                for y in range(h):
                    for x in range(w):
                        for i in range(frames):
                            y0, y1 = (y * H) // h, -((-(y + 1) * H) // h)
                            x0, x1 = (x * W) // w, -((-(x + 1) * W) // w)
                            phi = m[bi, i, y0:y1, x0:x1].mean()
                            layer += (d[bi, hd, i, y, x] * phi) ** 2
        total += layer / (b * heads * h * w)
    return total


def test_attention_loss_equals_direct_computation():
    g = torch.Generator().manual_seed(0)
    masks = (torch.rand(2, 3, 12, 10, generator=g) > 0.6).float()
    diagonals = [torch.rand(2, 2, 3, 6, 5, generator=g), torch.rand(2, 4, 3, 3, 3, generator=g),
                 torch.rand(2, 1, 3, 12, 10, generator=g)]
    got = attention_loss(diagonals, masks).item()
    assert np.isclose(got, direct_eq8(diagonals, masks), rtol=1e-5)
    assert got > 0


def test_attention_loss_zero_for_empty_masks_and_has_gradient():
    d = torch.rand(1, 2, 4, 3, 3, requires_grad=True)
    assert attention_loss([d], torch.zeros(1, 4, 24, 24)).item() == 0.0
    loss = attention_loss([d], torch.ones(1, 4, 24, 24))
    loss.backward()
    assert torch.allclose(d.grad, 2 * d.detach() / (2 * 9))    # d/dd of sum_i mean(d^2)


def test_attention_loss_rejects_mismatched_maps():
    import pytest
    with pytest.raises(ValueError, match="frames=4"):
        attention_loss([torch.rand(1, 2, 3, 3, 3)], torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match="none were captured"):
        attention_loss([], torch.zeros(1, 4, 8, 8))


def test_preconditioning_matches_diffusers_euler_v_prediction():
    from diffusers import EulerDiscreteScheduler
    from server.trackgo.tiny import SVD_SCHEDULER_CONFIG

    sched = EulerDiscreteScheduler(**SVD_SCHEDULER_CONFIG)
    sched.set_timesteps(10)
    edm = EDMSchedule()
    g = torch.Generator().manual_seed(1)
    for index in (0, 4, 8):
        sigma = sched.sigmas[index]
        sample = torch.randn(1, 2, 4, 3, 3, generator=g)
        output = torch.randn(1, 2, 4, 3, 3, generator=g)
        sched._step_index = index
        scaled = sched.scale_model_input(sample, sched.timesteps[index])
        assert torch.allclose(scaled, sample * edm.c_in(sigma))
        assert torch.isclose(sched.timesteps[index], edm.c_noise(sigma), rtol=1e-5)
        sched._step_index = index
        step = sched.step(output, sched.timesteps[index], sample)
        expected = edm.denoise(output, sample, sigma.reshape(1))
        assert torch.allclose(step.pred_original_sample, expected, atol=1e-5)


def test_edm_weighted_loss_equals_v_target_mse():
    edm = EDMSchedule()
    g = torch.Generator().manual_seed(2)
    sigma = edm.sample_sigmas(3, g)
    x0, eps, out = (torch.randn(3, 2, 4, 3, 3, generator=g) for _ in range(3))
    noisy = x0 + sigma.reshape(-1, 1, 1, 1, 1) * eps
    weighted = denoising_loss(edm.denoise(out, noisy, sigma), x0, edm.loss_weight(sigma))
    s = sigma.reshape(-1, 1, 1, 1, 1)
    v_target = (x0 - edm.c_skip(s) * noisy) / edm.c_out(s)
    assert torch.isclose(weighted, ((out - v_target) ** 2).mean(), rtol=1e-4)
    big = EDMSchedule().sample_sigmas(20000, torch.Generator().manual_seed(3)).log()
    assert abs(big.mean() - 0.7) < 0.05 and abs(big.std() - 1.6) < 0.05
