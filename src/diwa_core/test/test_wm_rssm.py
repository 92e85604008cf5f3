"""The RSSM and the world model's API: shapes, gradients, KL balancing, sampling, bad input."""

from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.world_model.config import load_world_model_config
from diwa.world_model.model import WorldModel
from diwa.world_model.rssm import Dense, balanced_kl, categorical_kl
from torch import nn

TINY = Path(__file__).with_name("wm_tiny.yaml")


@pytest.fixture
def model() -> WorldModel:
    torch.manual_seed(0)
    return WorldModel(load_world_model_config(TINY))


def random_obs(batch: int, steps: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "robot_obs": torch.randn(batch, steps, 15, generator=g),
        "scene_obs": torch.randn(batch, steps, 24, generator=g),
    }


def test_observe_imagine_features_decode_shapes(model: WorldModel) -> None:
    cfg = model.config.rssm
    posts, priors = model.observe(random_obs(3, 5), torch.zeros(3, 5, 7))
    for states in (posts, priors):
        assert states.deter.shape == (3, 5, cfg.deter)
        assert states.logits.shape == (3, 5, cfg.stoch_vars, cfg.stoch_classes)
        assert states.stoch.shape == (3, 5, cfg.stoch)
    start = model.encode_start({k: v[:, 0] for k, v in random_obs(3, 1).items()})
    assert start.deter.shape == (3, cfg.deter)
    imagined = model.imagine(start, torch.zeros(3, 6, 7))
    feats = model.features(imagined)
    assert feats.shape == (3, 6, model.feat_dim) == (3, 6, cfg.deter + cfg.stoch)
    decoded = model.decode(feats)
    assert decoded["robot_obs"].shape == (3, 6, 15)
    assert decoded["scene_obs"].shape == (3, 6, 24)
    stepped = model.step(start, torch.zeros(3, 7))
    assert stepped.deter.shape == (3, cfg.deter)


def test_samples_are_one_hot_and_mixed_probabilities_are_floored(model: WorldModel) -> None:
    posts, _ = model.observe(random_obs(2, 4), torch.zeros(2, 4, 7))
    cfg = model.config.rssm
    one_hot = posts.stoch.detach().reshape(2, 4, cfg.stoch_vars, cfg.stoch_classes)
    assert torch.allclose(one_hot.sum(-1), torch.ones(2, 4, cfg.stoch_vars))
    assert set(torch.unique(one_hot.round(decimals=5)).tolist()) <= {0.0, 1.0}
    probs = torch.softmax(posts.logits, -1)
    assert probs.min() >= cfg.unimix / cfg.stoch_classes - 1e-6


def test_straight_through_gradient_reaches_the_encoder(model: WorldModel) -> None:
    posts, _ = model.observe(random_obs(2, 3), torch.zeros(2, 3, 7))
    weights = torch.randn(posts.stoch.shape, generator=torch.Generator().manual_seed(1))
    (posts.stoch * weights).sum().backward()
    encoder_grads = [p.grad for p in model.state_encoder.parameters()]
    assert all(g is not None for g in encoder_grads)
    assert sum(float(g.abs().sum()) for g in encoder_grads) > 0


def test_kl_balancing_splits_gradients_between_prior_and_posterior() -> None:
    g = torch.Generator().manual_seed(0)
    post = torch.randn(5, 4, 3, generator=g, requires_grad=True)
    prior = torch.randn(5, 4, 3, generator=g, requires_grad=True)
    loss, value = balanced_kl(post, prior, 0.8)
    plain = categorical_kl(post, prior)
    assert torch.allclose(loss, plain) and torch.allclose(value, plain)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=post), torch.distributions.Categorical(logits=prior)
    ).sum(-1)
    assert torch.allclose(plain, expected, atol=1e-6)
    post_grad, prior_grad = torch.autograd.grad(loss.sum(), (post, prior))
    plain_post, plain_prior = torch.autograd.grad(categorical_kl(post, prior).sum(), (post, prior))
    assert torch.allclose(prior_grad, 0.8 * plain_prior, atol=1e-6)
    assert torch.allclose(post_grad, 0.2 * plain_post, atol=1e-6)


def test_imagination_is_reproducible_with_a_seeded_generator(model: WorldModel) -> None:
    start = model.encode_start({k: v[:, 0] for k, v in random_obs(4, 1).items()}, torch.Generator().manual_seed(3))
    actions = torch.rand(4, 10, 7, generator=torch.Generator().manual_seed(4)) * 2 - 1
    a = model.imagine(start, actions, torch.Generator().manual_seed(5))
    b = model.imagine(start, actions, torch.Generator().manual_seed(5))
    c = model.imagine(start, actions, torch.Generator().manual_seed(6))
    assert torch.equal(a.stoch, b.stoch)
    assert not torch.equal(a.stoch, c.stoch)


def test_angles_are_compared_across_the_wrap(model: WorldModel) -> None:
    frames = {"robot_obs": np.zeros((4, 15), np.float32), "scene_obs": np.zeros((4, 24), np.float32)}
    frames["robot_obs"][:, 3] = [3.1, -3.1, 3.0, -3.0]
    frames["robot_obs"][:, 14] = [1.0, -1.0, 1.0, -1.0]  # the last gripper action is -1 or +1
    model.codec.fit(frames)
    raw = model.codec.concat({k: torch.from_numpy(v) for k, v in frames.items()})
    assert torch.allclose(model.codec.decode(model.codec.encode(raw)), raw, atol=1e-5)


def test_two_valued_quantities_decode_to_the_nearer_value(model: WorldModel) -> None:
    frames = {"robot_obs": np.zeros((4, 15), np.float32), "scene_obs": np.zeros((4, 24), np.float32)}
    frames["robot_obs"][:, 14] = [0.2, -0.1, 0.9, -0.7]
    frames["scene_obs"][:, 4] = [0.3, 0.6, 0.0, 1.0]  # lightbulb
    frames["scene_obs"][:, 5] = [0.51, 0.49, 0.9, 0.1]  # LED
    frames["scene_obs"][:, 1] = [0.03, 0.1, 0.2, 0.15]  # the drawer is not two-valued
    model.codec.fit(frames)
    raw = model.codec.concat({k: torch.from_numpy(v) for k, v in frames.items()})
    decoded = model.codec.split(model.codec.decode(model.codec.encode(raw)))
    assert decoded["robot_obs"][:, 14].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert decoded["scene_obs"][:, 4].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert decoded["scene_obs"][:, 5].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert torch.allclose(decoded["scene_obs"][:, 1], torch.from_numpy(frames["scene_obs"][:, 1]), atol=1e-5)


@pytest.mark.parametrize(
    ("obs", "actions", "message"),
    [
        (
            {"robot_obs": torch.full((1, 2, 15), float("nan")), "scene_obs": torch.zeros(1, 2, 24)},
            torch.zeros(1, 2, 7),
            "NaN",
        ),
        (
            {"robot_obs": torch.zeros(1, 2, 14), "scene_obs": torch.zeros(1, 2, 24)},
            torch.zeros(1, 2, 7),
            "dimension 15",
        ),
        ({"robot_obs": torch.zeros(1, 2, 15)}, torch.zeros(1, 2, 7), "lacks"),
        ({"robot_obs": torch.zeros(1, 2, 15), "scene_obs": torch.zeros(1, 2, 24)}, torch.zeros(1, 2, 6), "dimension 7"),
        (
            {"robot_obs": torch.zeros(1, 2, 15), "scene_obs": torch.zeros(1, 2, 24)},
            torch.full((1, 2, 7), float("inf")),
            "NaN",
        ),
        (
            {"robot_obs": torch.zeros(1, 2, 15), "scene_obs": torch.zeros(1, 2, 24)},
            torch.zeros(1, 3, 7),
            "observe needs",
        ),
    ],
)
def test_bad_input_raises_clear_errors(model: WorldModel, obs: dict, actions: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        model.observe(obs, actions)


def test_imagine_and_decode_reject_bad_shapes(model: WorldModel) -> None:
    start = model.encode_start({k: v[:, 0] for k, v in random_obs(2, 1).items()})
    with pytest.raises(ValueError, match="imagine needs"):
        model.imagine(start, torch.zeros(3, 4, 7))
    with pytest.raises(ValueError, match="NaN"):
        model.step(start, torch.full((2, 7), float("nan")))
    with pytest.raises(ValueError, match="temperature"):
        model.imagine(start, torch.zeros(2, 4, 7), temperature=0.0)
    with pytest.raises(ValueError, match="last dimension"):
        model.decode(torch.zeros(2, model.feat_dim + 1))


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_samples_follow_the_categorical_at_the_temperature(model: WorldModel, temperature: float) -> None:
    logits = torch.tensor([0.0, 1.0, 2.0, -1.0]).expand(20000, model.config.rssm.stoch_vars, 4)
    with torch.no_grad():
        samples = model.rssm._sample(logits, torch.Generator().manual_seed(0), temperature)
    frequencies = samples.reshape(-1, 4).mean(0)
    assert torch.allclose(frequencies, torch.softmax(logits[0, 0] / temperature, -1), atol=0.01)


def test_dense_layers_keep_their_checkpoint_names_and_compute_the_sequential(model: WorldModel) -> None:
    names = set(model.rssm.state_dict())
    assert {"img_in.0.weight", "img_in.1.weight", "img_in.1.bias", "prior_net.0.0.weight", "prior_net.1.bias"} <= names
    assert {"post_net.0.1.weight", "gru.linear.weight", "gru.norm.bias"} <= names
    dense = Dense(12, 8)
    sequential = nn.Sequential(*dense)
    x = torch.randn(5, 12, generator=torch.Generator().manual_seed(2))
    assert torch.equal(dense(x), sequential(x))


def test_probabilities_given_to_the_sampler_are_softmax_of_the_logits(model: WorldModel) -> None:
    raw = torch.randn(64, model.config.rssm.stoch, generator=torch.Generator().manual_seed(3)) * 4
    logits, probs = model.rssm._distribution(raw)
    torch.testing.assert_close(probs, torch.softmax(logits, -1), rtol=1e-5, atol=1e-7)
