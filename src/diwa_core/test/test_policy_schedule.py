"""The noise schedule against the textbook DDPM / DDIM formulas, recomputed here in numpy."""

import math

import numpy as np
import pytest
from diwa.policy.schedule import DDPMSchedule, cosine_betas


def textbook_cosine_alphas_cumprod(steps: int, s: float = 0.008) -> np.ndarray:
    f = [math.cos((t / steps + s) / (1 + s) * math.pi / 2) ** 2 for t in range(steps + 1)]
    return np.array([f[t + 1] / f[0] for t in range(steps)])


def test_cosine_betas_reproduce_the_cosine_alpha_bar_curve():
    betas = cosine_betas(20)
    assert betas.shape == (20,)
    assert np.all((betas > 0) & (betas <= 0.999))
    assert np.all(np.diff(betas) > 0), "the cosine schedule adds more noise at every later step"
    # abar reaches ~0 at t = K - 1, where beta is capped at 0.999: compare the curve before that.
    np.testing.assert_allclose(np.cumprod(1 - betas)[:-1], textbook_cosine_alphas_cumprod(20)[:-1], rtol=1e-10)
    assert betas[-1] == 0.999


def test_cosine_betas_reject_an_empty_chain():
    with pytest.raises(ValueError, match="at least one step"):
        cosine_betas(0)


def test_posterior_coefficients_match_the_ddpm_posterior():
    schedule = DDPMSchedule.cosine(20)
    betas = schedule.betas
    abar = np.cumprod(1 - betas)
    for t in range(20):
        abar_prev = abar[t - 1] if t > 0 else 1.0
        # q(x_{t-1} | x_t, x_0) from Ho et al. 2020, eq. 6-7.
        variance = betas[t] * (1 - abar_prev) / (1 - abar[t])
        coef_x0 = math.sqrt(abar_prev) * betas[t] / (1 - abar[t])
        coef_xt = math.sqrt(1 - betas[t]) * (1 - abar_prev) / (1 - abar[t])
        assert schedule.posterior_variance[t] == pytest.approx(variance, rel=1e-12, abs=1e-15)
        assert schedule.posterior_mean_coef1[t] == pytest.approx(coef_x0, rel=1e-12)
        assert schedule.posterior_mean_coef2[t] == pytest.approx(coef_xt, rel=1e-12, abs=1e-15)
        assert schedule.sqrt_recip_alphas_cumprod[t] == pytest.approx(1 / math.sqrt(abar[t]), rel=1e-12)
        assert schedule.sqrt_recipm1_alphas_cumprod[t] == pytest.approx(math.sqrt(1 / abar[t] - 1), rel=1e-12)
    assert schedule.posterior_variance[0] == 0.0
    assert np.isfinite(schedule.posterior_log_variance_clipped).all()
    np.testing.assert_allclose(
        schedule.posterior_log_variance_clipped[1:], np.log(schedule.posterior_variance[1:]), rtol=1e-12
    )


def test_ddim_subsequence_and_sigma_follow_the_ddim_formula():
    schedule = DDPMSchedule.cosine(20)
    ddim = schedule.ddim(5, eta=1.0)
    np.testing.assert_array_equal(ddim.timesteps, [16, 12, 8, 4, 0])
    abar = np.cumprod(1 - schedule.betas)
    for i, t in enumerate(ddim.timesteps):
        abar_prev = abar[ddim.timesteps[i + 1]] if i + 1 < 5 else 1.0
        sigma = math.sqrt((1 - abar_prev) / (1 - abar[t]) * (1 - abar[t] / abar_prev))
        assert ddim.sigmas[i] == pytest.approx(sigma, rel=1e-12, abs=1e-15)
    np.testing.assert_array_equal(schedule.ddim(5, eta=0.0).sigmas, np.zeros(5))


def test_ddim_with_every_step_and_eta_one_has_the_ddpm_posterior_std():
    schedule = DDPMSchedule.cosine(20)
    ddim = schedule.ddim(20, eta=1.0)
    np.testing.assert_allclose(ddim.sigmas, np.sqrt(schedule.posterior_variance[::-1]), rtol=1e-9, atol=1e-12)


def test_ddim_rejects_more_steps_than_the_schedule():
    with pytest.raises(ValueError, match="DDIM needs"):
        DDPMSchedule.cosine(20).ddim(21, eta=1.0)
