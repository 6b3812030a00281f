"""SVD's training noise schedule and preconditioning (EDM, Karras et al. 2022), as diffusers runs it.

The released SVD-XT scheduler (``EulerDiscreteScheduler``, prediction_type "v_prediction",
timestep_type "continuous", sigma_min 0.002, sigma_max 700) implies sigma_data = 1 and:

    c_in    = 1 / sqrt(sigma^2 + 1)        (scheduler.scale_model_input)
    c_noise = 0.25 * log(sigma)            (the timestep the UNet receives)
    c_skip  = 1 / (sigma^2 + 1)            (step(): pred_original_sample =
    c_out   = -sigma / sqrt(sigma^2 + 1)    model_output * c_out + sample * c_skip)
    x_sigma = x0 + sigma * eps             (the pipeline starts from eps * init_noise_sigma)

Training draws log(sigma) ~ N(P_mean, P_std^2) (EDM's log-normal sampling; SVD fine-tunes with a
schedule shifted towards more noise) and minimises w(sigma) * ||D(x_sigma) - x0||^2 with
D = c_skip * x_sigma + c_out * F(c_in * x_sigma, c_noise) and EDM's w = (sigma^2 + 1) / sigma^2,
which equals plain MSE on the v-target F* = (x0 - c_skip * x_sigma) / c_out.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class EDMSchedule:
    p_mean: float = 0.7
    p_std: float = 1.6
    sigma_data: float = 1.0

    def sample_sigmas(self, batch: int, generator: torch.Generator | None = None,
                      device: torch.device | str = "cpu") -> torch.Tensor:
        """(B,) log-normal sigmas."""
        normal = torch.randn(batch, generator=generator, device="cpu" if generator is None
                             else generator.device)
        return torch.exp(self.p_mean + self.p_std * normal).to(device)

    def c_in(self, sigma: torch.Tensor) -> torch.Tensor:
        return 1.0 / (sigma**2 + self.sigma_data**2).sqrt()

    def c_skip(self, sigma: torch.Tensor) -> torch.Tensor:
        return self.sigma_data**2 / (sigma**2 + self.sigma_data**2)

    def c_out(self, sigma: torch.Tensor) -> torch.Tensor:
        return -sigma * self.sigma_data / (sigma**2 + self.sigma_data**2).sqrt()

    @staticmethod
    def c_noise(sigma: torch.Tensor) -> torch.Tensor:
        return 0.25 * sigma.log()

    def loss_weight(self, sigma: torch.Tensor) -> torch.Tensor:
        return (sigma**2 + self.sigma_data**2) / (sigma * self.sigma_data) ** 2

    def denoise(self, model_output: torch.Tensor, noisy: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """D(x; sigma) from the UNet's raw output; sigma is (B,), tensors (B, L, C, h, w)."""
        s = sigma.reshape(-1, *([1] * (noisy.ndim - 1)))
        return self.c_skip(s) * noisy + self.c_out(s) * model_output
