"""The PPO math against hand computations: surrogate loss, clip schedule, GAE, reward scaling."""

import math
from types import SimpleNamespace

import pytest
import rl_tiny
import torch
from diwa.rl.cached_condition import CachedConditionDenoiser
from diwa.rl.ppo import (
    RunningRewardScaler,
    clip_schedule,
    clipped_surrogate,
    denoising_discounts,
    generalized_advantages,
)


def test_clipped_surrogate_matches_a_hand_computed_case():
    # Ratios 1.5, 0.5 and 1.005 against advantages +1, -1 and +2, clips 0.2, 0.2 and 0.01.
    new = torch.tensor([math.log(1.5), math.log(0.5), math.log(1.005)], requires_grad=True)
    old = torch.zeros(3)
    advantages = torch.tensor([1.0, -1.0, 2.0])
    clip = torch.tensor([0.2, 0.2, 0.01])
    loss, kl, clipped = clipped_surrogate(new, old, advantages, clip)
    # 1: max(-1.5, -1.2) = -1.2 (clipped: no credit beyond 1 + 0.2)
    # 2: max(0.5, 0.8) = 0.8 (clipped: the pessimistic bound of a bad action)
    # 3: ratio inside [0.99, 1.01]: -2 * 1.005 = -2.01
    assert loss.item() == pytest.approx((-1.2 + 0.8 - 2.01) / 3, abs=1e-6)
    expected_kl = ((0.5 - math.log(1.5)) + (-0.5 - math.log(0.5)) + (0.005 - math.log(1.005))) / 3
    assert kl.item() == pytest.approx(expected_kl, abs=1e-6)
    assert clipped.item() == pytest.approx(2 / 3)
    loss.backward()
    # Clipped terms pass no gradient; the third has d/dlogp (-A r / 3) = -2 * 1.005 / 3.
    assert new.grad.tolist() == pytest.approx([0.0, 0.0, -2 * 1.005 / 3], abs=1e-6)


def test_clip_rises_exponentially_from_the_noisiest_to_the_last_step():
    clips = clip_schedule(10, 0.001, 0.01, 3.0)
    assert clips[0].item() == pytest.approx(0.001)
    assert clips[-1].item() == pytest.approx(0.01)
    i = 4
    expected = 0.001 + 0.009 * (math.exp(3.0 * i / 9) - 1) / (math.exp(3.0) - 1)
    assert clips[i].item() == pytest.approx(expected, rel=1e-6)
    assert torch.all(clips[1:] > clips[:-1])
    assert clip_schedule(1, 0.001, 0.01, 3.0).tolist() == pytest.approx([0.01])


def test_denoising_discount_weights_earlier_steps_less():
    assert denoising_discounts(3, 0.99).tolist() == pytest.approx([0.99**2, 0.99, 1.0])


def direct_advantages(rewards, values, next_values, terminated, done, gamma, lam):
    """A_t = sum_l (gamma lam)^l delta_{t+l}, summed until the episode of step t ends."""
    steps, batch = rewards.shape
    out = torch.zeros(steps, batch)
    for b in range(batch):
        for t in range(steps):
            total, factor = 0.0, 1.0
            for u in range(t, steps):
                delta = rewards[u, b] + gamma * next_values[u, b] * (0.0 if terminated[u, b] else 1.0) - values[u, b]
                total += factor * delta
                if done[u, b]:
                    break
                factor *= gamma * lam
            out[t, b] = total
    return out


def test_gae_matches_the_direct_sum_with_terminations_and_truncations():
    generator = torch.Generator().manual_seed(0)
    steps, batch = 9, 3
    rewards = torch.rand(steps, batch, generator=generator)
    values = torch.rand(steps, batch, generator=generator)
    next_values = torch.rand(steps, batch, generator=generator)
    terminated = torch.rand(steps, batch, generator=generator) < 0.2
    truncated = ~terminated & (torch.rand(steps, batch, generator=generator) < 0.2)
    done = terminated | truncated
    assert terminated.any() and truncated.any()
    got = generalized_advantages(rewards, values, next_values, terminated, done, 0.9, 0.8)
    expected = direct_advantages(rewards, values, next_values, terminated, done, 0.9, 0.8)
    torch.testing.assert_close(got, expected)


def test_reward_scaler_divides_by_the_std_of_the_discounted_return():
    scaler = RunningRewardScaler(gamma=0.5)
    rewards = torch.tensor([[1.0], [0.0], [1.0]])
    scaled = scaler(rewards, torch.zeros(3, 1, dtype=torch.bool))
    returns = torch.tensor([1.0, 0.5, 1.25])  # 1; 0.5 * 1 + 0; 0.5 * 0.5 + 1
    std = returns.var(unbiased=False).sqrt()
    torch.testing.assert_close(scaled, rewards / std)
    # An episode end resets the return: the same rewards after a done give returns 1, 0, 1.
    fresh = RunningRewardScaler(gamma=0.5)
    fresh(rewards, torch.tensor([[False], [True], [False]]))
    assert fresh.var == pytest.approx(torch.tensor([1.0, 0.5, 1.0]).var(unbiased=False).item())


def test_cached_condition_denoiser_computes_what_the_network_computes():
    network = rl_tiny.policy(24).base.requires_grad_(True)
    generator = torch.Generator().manual_seed(1)
    cond = torch.randn(5, 24, generator=generator)
    x = torch.randn(5, 4, 7, generator=generator)
    cached = CachedConditionDenoiser(network, cond)
    with torch.no_grad():
        for t in (torch.full((5,), 3), torch.tensor([0, 1, 2, 3, 4])):
            torch.testing.assert_close(cached(x, t, cached.cond), network(x, t, cond), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="conditioning batch"):
        cached(x, t, cond.clone())

    # Rows sharing a state, as in a PPO minibatch: same outputs and same weight gradients.
    rows = torch.tensor([0, 2, 2, 4, 0])
    t = torch.tensor([1, 3, 5, 3, 1])
    network(x, t, cond[rows]).square().sum().backward()
    expected = {name: p.grad.clone() for name, p in network.named_parameters()}
    network.zero_grad()
    shared = CachedConditionDenoiser(network, cond, rows)
    shared(x, t, shared.cond).square().sum().backward()
    for name, parameter in network.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name], rtol=1e-4, atol=1e-5)


def test_rollout_conditions_follow_the_episodes_across_chunks():
    model = rl_tiny.world_model()
    config = rl_tiny.config().replace("rollout", max_episode_steps=8)  # episodes end every 2 chunks
    ppo = rl_tiny.ppo(rl_tiny.policy(model.feat_dim), config)
    rollout = ppo.play(rl_tiny.imagination(model, ppo.policy, config), 5)
    continuing = ~rollout.done[:-1]
    assert continuing.any() and rollout.done.any()
    # A continuing episode is conditioned next on the state its chunk ended in; a restarted one not.
    assert torch.equal(rollout.cond[1:][continuing], rollout.next_cond[:-1][continuing])
    assert not torch.equal(rollout.cond[1:][~continuing], rollout.next_cond[:-1][~continuing])


def _perturbed_update(base_kl_coef: float, noise: float = 0.02) -> tuple[float, float, dict[str, float]]:
    """Base KL before and after one update with zero advantages (no policy gradient), starting
    from a fine-tuned copy pushed `noise` away from the base (Adam, so the lr sets the pace)."""
    model = rl_tiny.world_model()
    config = rl_tiny.config().replace(
        "ppo", base_kl_coef=base_kl_coef, critic_warmup_iterations=0, actor_lr=3e-3, update_epochs=10
    )
    ppo = rl_tiny.ppo(rl_tiny.policy(model.feat_dim), config)
    with torch.no_grad():
        for parameter in ppo.actor.parameters():
            parameter.add_(noise * torch.randn_like(parameter))
    rollout = ppo.collect(rl_tiny.imagination(model, ppo.policy, config), 5)
    zero = torch.zeros_like(rollout.values)

    def measured() -> float:
        """Mean per-element KL over all stored transitions, from the update's own base means."""
        cond, chains = rollout.cond.flatten(0, 1), rollout.chains.flatten(0, 1)
        rows = torch.arange(len(cond)).repeat_interleave(ppo.steps)
        step = torch.arange(ppo.steps).repeat(len(cond))
        position = ppo.first_position + step
        with torch.no_grad():
            actor = CachedConditionDenoiser(ppo.actor, cond, rows)
            mean = ppo.policy.mdp.step_gaussian(actor, chains[rows, step], position, actor.cond).mean
            base_mean = rollout.base_means.flatten(0, 1)[rows, step]
            return float(ppo.policy.mdp.kl(mean, base_mean, position).mean()) / ppo.chunk_elements

    before = measured()
    stats = ppo.update(rollout, zero, zero)
    return before, measured(), stats


def test_the_base_kl_penalty_pulls_the_finetuned_steps_back_to_the_base():
    before, after, stats = _perturbed_update(base_kl_coef=10.0)
    assert before > 0.0 and stats["base_kl"] > 0.0
    assert after < 0.2 * before


def test_without_the_penalty_the_base_kl_is_only_measured():
    before, after, stats = _perturbed_update(base_kl_coef=0.0)
    assert before > 0.0 and stats["base_kl"] == pytest.approx(before, rel=1e-4)
    assert after == pytest.approx(before, rel=1e-6)  # zero advantages: the actor does not move
    unchanged, _, _ = _perturbed_update(base_kl_coef=0.0, noise=0.0)
    assert unchanged == pytest.approx(0.0, abs=1e-12)  # float rounding of two batchings only


@pytest.mark.parametrize("bootstrap", [True, False])
def test_the_step_limit_is_bootstrapped_only_when_configured(bootstrap):
    model = rl_tiny.world_model()
    config = rl_tiny.config().replace("ppo", bootstrap_truncated=bootstrap, reward_scaling=False, gae_lambda=1.0)
    ppo = rl_tiny.ppo(rl_tiny.policy(model.feat_dim), config)
    # One episode of two chunks, no reward, cut by the step limit; the critic values its last state at 10.
    rollout = SimpleNamespace(
        rewards=torch.zeros(2, 1),
        values=torch.tensor([[1.0], [2.0]]),
        next_values=torch.tensor([[2.0], [10.0]]),
        terminated=torch.tensor([[False], [False]]),
        done=torch.tensor([[False], [True]]),
    )
    advantages, returns = ppo.advantages(rollout)
    gamma = config.ppo.gamma
    last = gamma * 10.0 if bootstrap else 0.0
    assert returns[:, 0].tolist() == pytest.approx([gamma * last, last])
    assert advantages[:, 0].tolist() == pytest.approx([gamma * last - 1.0, last - 2.0])
