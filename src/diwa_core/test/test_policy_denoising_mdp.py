"""The denoising MDP: step Gaussians, log-probabilities and the sampler's clips and modes."""

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from diwa.policy.config import DiffusionConfig
from diwa.policy.denoising_mdp import ChainSampler, DenoisingMDP
from diwa.policy.network import EpsilonMLP, SamplingEpsilon, sampling_mish
from torch import nn
from torch.nn import functional as F

H, A, D = 4, 7, 5


def small_network(seed: int = 0) -> EpsilonMLP:
    torch.manual_seed(seed)
    return EpsilonMLP(horizon=H, action_dim=A, cond_dim=D, widths=(32, 32, 32))


class ConstantNoise(nn.Module):
    """Predicts the same epsilon everywhere: lets a test push x0 far outside [-1, 1]."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return torch.full_like(x, self.value)


def textbook_ddpm_mean(x_t: np.ndarray, eps: np.ndarray, t: int, steps: int = 20) -> np.ndarray:
    grid = np.arange(steps + 1) / steps
    f = np.cos((grid + 0.008) / 1.008 * np.pi / 2) ** 2
    abar = f[1:] / f[0]
    abar[-1] = abar[-2] * 0.001  # beta capped at 0.999 at the noisiest step
    beta = 1 - abar[t] / (abar[t - 1] if t > 0 else 1.0)
    abar_prev = abar[t - 1] if t > 0 else 1.0
    x0 = np.clip((x_t - np.sqrt(1 - abar[t]) * eps) / np.sqrt(abar[t]), -1, 1)
    return (np.sqrt(abar_prev) * beta * x0 + np.sqrt(1 - beta) * (1 - abar_prev) * x_t) / (1 - abar[t])


def test_ddpm_step_mean_is_the_posterior_mean_of_the_clipped_predicted_x0():
    mdp = DenoisingMDP(DiffusionConfig())
    network = small_network()
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(6, H, A, generator=generator) * 2.0
    cond = torch.randn(6, D, generator=generator)
    for position in (0, 7, 19):
        t = 19 - position
        with torch.no_grad():
            gaussian = mdp.step_gaussian(network, x, position, cond)
            eps = network(x, torch.full((6,), t), cond).numpy().astype(np.float64)
        expected = textbook_ddpm_mean(x.numpy().astype(np.float64), eps, t)
        np.testing.assert_allclose(gaussian.mean.numpy(), expected, rtol=1e-4, atol=1e-5)
        assert float(gaussian.std) == pytest.approx(math.sqrt(max(mdp.schedule.posterior_variance[t], 1e-20)), rel=1e-5)


def test_log_prob_is_the_normal_log_density_of_the_step_gaussian():
    mdp = DenoisingMDP(DiffusionConfig())
    network = small_network()
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(8, H, A, generator=generator)
    cond = torch.randn(8, D, generator=generator)
    for position in (0, 10, 19):
        with torch.no_grad():
            gaussian = mdp.step_gaussian(network, x, position, cond)
            std = max(float(gaussian.std), 0.1)
            x_next = gaussian.mean + std * torch.randn(8, H, A, generator=generator).clamp(-2.5, 2.5)
            log_prob = mdp.log_prob(network, x, x_next, position, cond)
        diff = (x_next - gaussian.mean).numpy().astype(np.float64)
        density = -0.5 * (diff / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
        assert density.min() > -5 and density.max() < 2, "inside the clamp range the clamp must not act"
        np.testing.assert_allclose(log_prob.numpy(), density.sum(axis=(1, 2)), rtol=1e-5)


def test_log_prob_is_clamped_per_element():
    mdp = DenoisingMDP(DiffusionConfig())
    network = small_network()
    x = torch.zeros(2, H, A)
    cond = torch.zeros(2, D)
    with torch.no_grad():
        mean = mdp.step_gaussian(network, x, 19, cond).mean
        far = mdp.log_prob(network, x, mean + 10.0, 19, cond)
        exact = mdp.log_prob(network, x, mean, 19, cond)
    assert far.tolist() == pytest.approx([-5.0 * H * A] * 2)
    # At the mean with std 0.1 the density is 1.38 per element: below the upper clamp of 2.
    assert exact.tolist() == pytest.approx([(-math.log(0.1) - 0.5 * math.log(2 * math.pi)) * H * A] * 2, rel=1e-5)


def test_log_prob_of_a_batch_of_positions_matches_one_position_at_a_time_and_has_gradients():
    mdp = DenoisingMDP(DiffusionConfig())
    network = small_network()
    generator = torch.Generator().manual_seed(3)
    cond = torch.randn(5, D, generator=generator)
    sample = mdp.sample(network, cond, generator, return_chain=True)
    positions = torch.tensor([0, 4, 9, 15, 19])
    rows = torch.arange(5)
    x, x_next = sample.chain[rows, positions], sample.chain[rows, positions + 1]
    batched = mdp.log_prob(network, x, x_next, positions, cond)
    for i, position in enumerate(positions.tolist()):
        single = mdp.log_prob(network, x[i : i + 1], x_next[i : i + 1], position, cond[i : i + 1])
        assert float(single.detach()) == pytest.approx(float(batched[i].detach()), rel=1e-5, abs=1e-5)
    batched.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in network.parameters())


def test_kl_between_step_gaussians_uses_the_log_prob_std():
    mdp = DenoisingMDP(DiffusionConfig())
    stds = mdp.step_stds.clamp(min=0.1)
    mean = torch.zeros(2, H, A)
    reference = torch.zeros(2, H, A)
    reference[0, 0, 0] = 0.3  # one element 0.3 away in the first sample; the second sample equal
    reference[0, 1, 2] = -0.1
    for position in (0, 19):
        expected = 0.5 * (0.3**2 + 0.1**2) / float(stds[position]) ** 2
        assert mdp.kl(mean, reference, position).tolist() == pytest.approx([expected, 0.0], rel=1e-5)
    # A batch of positions: each row divided by its own position's std.
    both = mdp.kl(mean, reference.flip(0), torch.tensor([19, 0]))
    assert both.tolist() == pytest.approx([0.0, 0.5 * 0.1 / float(stds[0]) ** 2], rel=1e-5)


def test_chain_records_means_and_stds_and_uses_the_exploration_floor():
    mdp = DenoisingMDP(DiffusionConfig())
    network = small_network()
    sample = mdp.sample(network, torch.zeros(3, D), torch.Generator().manual_seed(4), return_chain=True)
    assert sample.chain.shape == (3, 21, H, A)
    assert sample.means.shape == (3, 20, H, A)
    assert torch.equal(sample.chain[:, -1], sample.actions)
    assert torch.all(sample.stds >= 0.1)
    with torch.no_grad():
        for position in (0, 19):
            recomputed = mdp.step_gaussian(network, sample.chain[:, position], position, torch.zeros(3, D)).mean
            torch.testing.assert_close(recomputed, sample.means[:, position])


def test_sampler_clips_noise_at_three_standard_deviations():
    mdp = DenoisingMDP(DiffusionConfig())
    sample = mdp.sample(small_network(), torch.zeros(512, D), torch.Generator().manual_seed(5), return_chain=True)
    # 512 x 28 x 19 draws: unclipped, dozens would lie beyond 3 std.
    z = (sample.chain[:, 1:-1] - sample.means[:, :-1]) / sample.stds[:-1, None, None]
    assert z.abs().max() == pytest.approx(3.0, abs=1e-3)


def test_sampler_clips_predicted_x0_and_final_actions():
    mdp = DenoisingMDP(DiffusionConfig())
    network = ConstantNoise(-50.0)  # predicted x0 = a x + 50 b: far above 1 at every step
    x = torch.randn(4, H, A)
    gaussian = mdp.step_gaussian(network, x, 5, torch.zeros(4, D))
    assert torch.all(gaussian.x0 == 1.0)
    sample = mdp.sample(network, torch.zeros(64, D), torch.Generator().manual_seed(6), return_chain=True)
    assert sample.actions.abs().max() <= 1.0
    assert (sample.actions == 1.0).float().mean() > 0.3, "noise around a mean at the bound must be clipped"
    assert sample.chain[:, -2].max() > 1.0, "intermediate steps are not action-clipped"


def test_ddim_with_eta_zero_is_deterministic():
    config = DiffusionConfig(sampler="ddim", ddim_steps=5, ddim_eta=0.0, min_sampling_std=0.0)
    mdp = DenoisingMDP(config)
    assert mdp.num_steps == 5 and torch.all(mdp.step_stds == 0)
    network = small_network()
    cond = torch.randn(3, D, generator=torch.Generator().manual_seed(7))
    x_k = torch.randn(3, H, A, generator=torch.Generator().manual_seed(8))
    first = mdp.sample(network, cond, torch.Generator().manual_seed(8), return_chain=True)
    second = mdp.sample(network, cond, torch.Generator().manual_seed(8), return_chain=True)
    torch.testing.assert_close(first.chain[:, 0], x_k)
    torch.testing.assert_close(first.actions, second.actions)
    # Without noise every step is exactly its mean, the DDIM ODE update.
    torch.testing.assert_close(first.chain[:, 1:-1], first.means[:, :-1])


def test_ddim_step_is_the_ddim_update_from_the_clipped_x0():
    config = DiffusionConfig(sampler="ddim", ddim_steps=5, ddim_eta=1.0)
    mdp = DenoisingMDP(config)
    network = small_network()
    x = torch.randn(4, H, A, generator=torch.Generator().manual_seed(9))
    cond = torch.zeros(4, D)
    abar = mdp.schedule.alphas_cumprod
    with torch.no_grad():
        gaussian = mdp.step_gaussian(network, x, 1, cond)  # timestep 12 -> 8
        eps = network(x, torch.full((4,), 12), cond).double().numpy()
    x_np = x.double().numpy()
    x0 = np.clip((x_np - np.sqrt(1 - abar[12]) * eps) / np.sqrt(abar[12]), -1, 1)
    eps_from_x0 = (x_np - np.sqrt(abar[12]) * x0) / np.sqrt(1 - abar[12])
    sigma = np.sqrt((1 - abar[8]) / (1 - abar[12]) * (1 - abar[12] / abar[8]))
    expected = np.sqrt(abar[8]) * x0 + np.sqrt(1 - abar[8] - sigma**2) * eps_from_x0
    np.testing.assert_allclose(gaussian.mean.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert float(gaussian.std) == pytest.approx(sigma, rel=1e-5)


def test_deterministic_ddpm_takes_the_mean_at_the_last_step_only():
    mdp = DenoisingMDP(DiffusionConfig())
    stds = mdp.sampling_stds(deterministic=True)
    assert stds[-1] == 0 and torch.all(stds[:-1] > 0)
    network = small_network()
    cond = torch.zeros(2, D)
    sample = mdp.sample(network, cond, torch.Generator().manual_seed(10), deterministic=True, return_chain=True)
    torch.testing.assert_close(sample.actions, sample.means[:, -1].clamp(-1, 1))
    again = mdp.sample(network, cond, torch.Generator().manual_seed(10), deterministic=True)
    other = mdp.sample(network, cond, torch.Generator().manual_seed(11), deterministic=True)
    torch.testing.assert_close(sample.actions, again.actions)
    assert not torch.equal(sample.actions, other.actions), "earlier DDPM steps still sample (seeded)"


def test_deterministic_ddim_takes_the_mean_at_every_step():
    mdp = DenoisingMDP(DiffusionConfig(sampler="ddim"))
    assert torch.all(mdp.sampling_stds(deterministic=True) == 0)
    network = small_network()
    sample = mdp.sample(
        network, torch.zeros(2, D), torch.Generator().manual_seed(1), deterministic=True, return_chain=True
    )
    torch.testing.assert_close(sample.chain[:, 1:-1], sample.means[:, :-1])
    torch.testing.assert_close(sample.actions, sample.means[:, -1].clamp(-1, 1))


def test_finetuned_network_runs_only_the_last_steps():
    mdp = DenoisingMDP(DiffusionConfig())
    base = small_network(0)
    finetuned = copy.deepcopy(base)
    with torch.no_grad():
        finetuned.body.head.bias.add_(0.5)
    cond = torch.randn(3, D, generator=torch.Generator().manual_seed(12))
    sample = mdp.sample(
        base, cond, torch.Generator().manual_seed(13), return_chain=True, finetuned=finetuned, finetuned_steps=10
    )
    with torch.no_grad():
        for position, network in ((9, base), (10, finetuned)):
            expected = mdp.step_gaussian(network, sample.chain[:, position], position, cond).mean
            torch.testing.assert_close(sample.means[:, position], expected)
            other = finetuned if network is base else base
            assert not torch.allclose(
                mdp.step_gaussian(other, sample.chain[:, position], position, cond).mean, expected
            )
    with pytest.raises(ValueError, match="finetuned"):
        mdp.sample(base, cond, finetuned_steps=10)


def test_invalid_positions_are_rejected():
    mdp = DenoisingMDP(DiffusionConfig())
    with pytest.raises(ValueError, match="position"):
        mdp.step_gaussian(small_network(), torch.zeros(1, H, A), 20, torch.zeros(1, D))
    with pytest.raises(ValueError, match="positions must have shape"):
        mdp.step_gaussian(small_network(), torch.zeros(2, H, A), torch.tensor([1]), torch.zeros(2, D))


def test_sampler_settings_are_validated():
    with pytest.raises(ValueError, match="sampler"):
        DiffusionConfig(sampler="euler")
    with pytest.raises(ValueError, match="ddim_steps"):
        dataclasses.replace(DiffusionConfig(), ddim_steps=0)


def test_sampling_mish_is_torchs_mish_to_float_rounding():
    x = torch.cat([torch.linspace(-100.0, 100.0, 100_001), torch.tensor([0.0, -0.0, float("inf")])])
    torch.testing.assert_close(sampling_mish(x), F.mish(x), rtol=1e-6, atol=1e-12)
    assert torch.isnan(sampling_mish(torch.tensor([float("nan")]))).all()


def test_prepared_network_computes_what_the_network_computes():
    network = small_network()  # its parameters require gradients, as the fine-tuned copy's do
    timesteps = torch.tensor([19, 12, 3, 0])
    generator = torch.Generator().manual_seed(14)
    x = torch.randn(6, H, A, generator=generator)
    cond = torch.randn(6, D, generator=generator)
    prepared = SamplingEpsilon(network, timesteps)
    conditioned = prepared.condition(cond)
    for k, t in enumerate(timesteps.tolist()):
        eps = prepared(x, k, conditioned)
        assert not eps.requires_grad
        with torch.no_grad():
            expected = network(x, torch.full((6,), t), cond)
        torch.testing.assert_close(eps, expected, rtol=1e-5, atol=1e-6)


def test_the_prepared_chain_is_the_chain_of_the_step_gaussians():
    mdp = DenoisingMDP(DiffusionConfig())
    base = small_network(0)
    finetuned = small_network(1)
    cond = torch.randn(5, D, generator=torch.Generator().manual_seed(15))
    sampler = ChainSampler(mdp, base, finetuned, finetuned_steps=10)
    sample = sampler.sample(cond, torch.Generator().manual_seed(16), return_chain=True)
    again = mdp.sample(
        base, cond, torch.Generator().manual_seed(16), return_chain=True, finetuned=finetuned, finetuned_steps=10
    )
    assert torch.equal(sample.chain, again.chain) and torch.equal(sample.actions, again.actions)
    # Every step again through step_gaussian, i.e. the networks' own forward (what log_prob scores),
    # with the same random numbers.
    generator = torch.Generator().manual_seed(16)
    stds = mdp.sampling_stds(deterministic=False)
    assert torch.equal(sample.chain[:, 0], torch.randn(5, H, A, generator=generator))
    with torch.no_grad():
        for position in range(mdp.num_steps):
            network = finetuned if position >= 10 else base
            mean = mdp.step_gaussian(network, sample.chain[:, position], position, cond).mean
            following = mean + stds[position] * torch.randn(5, H, A, generator=generator).clamp(-3.0, 3.0)
            torch.testing.assert_close(sample.means[:, position], mean, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(
                sample.chain[:, position + 1],
                following.clamp(-1.0, 1.0) if position == 19 else following,
                rtol=1e-5,
                atol=1e-5,
            )
    # The chain runs in inference mode, but what it returns is ordinary (in-place use allowed).
    assert not any(t.is_inference() for t in (sample.chain, sample.means, sample.actions))
    sample.actions.clamp_(-0.5, 0.5)
    assert torch.equal(sample.chain[:, -1], again.actions), "actions do not alias the chain"
