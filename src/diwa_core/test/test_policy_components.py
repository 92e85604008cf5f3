"""Config profiles, normalisers, EMA, encoders, networks and the policy benchmark command."""

import json

import numpy as np
import pytest
import torch
from diwa.cli import main
from diwa.data.dataset import Dataset
from diwa.policy.config import NetworkConfig, PolicyConfig, load_policy_config
from diwa.policy.ema import EMA
from diwa.policy.encoder import FeatureEncoder, StateEncoder, build_encoder
from diwa.policy.network import Critic, EpsilonMLP
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer


def test_profiles_load_with_diwa_diffusion_settings():
    quick, paper = load_policy_config("quick"), load_policy_config("paper")
    assert quick.network.widths == (256, 256, 256) and paper.network.widths == (512, 512, 512)
    for config in (quick, paper):
        d = config.diffusion
        assert (d.steps, d.horizon, d.action_dim, d.sampler) == (20, 4, 7, "ddpm")
        assert (d.min_sampling_std, d.min_logprob_std, d.noise_clip, d.logprob_min, d.logprob_max) == (
            0.1,
            0.1,
            3.0,
            -5.0,
            2.0,
        )
        assert (config.train.lr, config.train.final_lr, config.train.weight_decay, config.train.ema_decay) == (
            1e-4,
            1e-5,
            1e-6,
            0.995,
        )
        assert PolicyConfig.from_dict(config.to_dict()) == config
    assert paper.train.epochs == 5000 and paper.train.batch_size == 256


def test_config_loading_is_strict(tmp_path):
    data = load_policy_config("quick").to_dict()
    data["diffusion"]["stepz"] = 10
    with pytest.raises(ValueError, match=r"policy.diffusion: unknown keys \['stepz'\]"):
        PolicyConfig.from_dict(data)
    data = load_policy_config("quick").to_dict()
    del data["train"]["epochs"]
    with pytest.raises(ValueError, match="epochs"):
        PolicyConfig.from_dict(data)
    with pytest.raises(ValueError, match="odd number of equal"):
        NetworkConfig(widths=(256, 128, 256))
    with pytest.raises(FileNotFoundError, match="no policy profile"):
        load_policy_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: [unclosed")
    with pytest.raises(ValueError, match="invalid YAML"):
        load_policy_config(bad)


def test_action_normalizer_maps_the_demonstrated_range_to_unit_interval():
    actions = np.array([[-0.5, 0.2, 1.0], [0.5, 0.2, -1.0], [0.0, 0.2, 1.0]], np.float32)
    normalizer = ActionNormalizer.fit(actions)
    normalized = normalizer.normalize(torch.from_numpy(actions))
    assert normalized[:, 0].tolist() == [-1.0, 1.0, 0.0]
    assert normalized[:, 1].tolist() == [0.0, 0.0, 0.0], "a constant dimension normalises to 0"
    torch.testing.assert_close(normalizer.unnormalize(normalized), torch.from_numpy(actions))
    assert normalizer.unnormalize(torch.ones(1, 3)).tolist() == [[0.5, pytest.approx(0.2), 1.0]]
    restored = ActionNormalizer.from_dict(json.loads(json.dumps(normalizer.to_dict())))
    np.testing.assert_array_equal(restored.low, normalizer.low)


def test_feature_normalizer_standardises_and_floors_tiny_std():
    features = np.stack([np.linspace(0, 10, 101), np.full(101, 3.0)], axis=1)
    normalizer = FeatureNormalizer.fit(features)
    normalized = normalizer.normalize(torch.tensor(features, dtype=torch.float32))
    assert normalized[:, 0].mean() == pytest.approx(0.0, abs=1e-5)
    assert normalized[:, 0].std(unbiased=False) == pytest.approx(1.0, rel=1e-4)
    assert normalizer.std[1] == pytest.approx(1e-2)
    with pytest.raises(ValueError, match="finite"):
        FeatureNormalizer.from_dict({"mean": [0.0, float("nan")], "std": [1.0, 1.0]})


def test_ema_moves_towards_the_trained_weights_with_warm_up():
    network = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        network.weight.fill_(0.0)
    ema = EMA(network, decay=0.995)
    with torch.no_grad():
        network.weight.fill_(1.0)
    ema.update(network)  # warm-up decay (1 + 0) / (10 + 0) = 0.1
    assert ema.network.weight.flatten().tolist() == pytest.approx([0.9, 0.9])
    ema.updates = 10_000
    ema.update(network)  # full decay 0.995
    assert ema.network.weight.flatten().tolist() == pytest.approx([0.9 + 0.1 * 0.005] * 2)
    assert not ema.network.weight.requires_grad


def test_state_encoder_concatenates_robot_and_scene_state():
    robot = np.arange(30, dtype=np.float32).reshape(2, 15)
    scene = np.arange(48, dtype=np.float32).reshape(2, 24)
    dataset = Dataset(robot, scene, np.zeros((2, 7), np.float32), np.zeros((2, 7), np.float32), [(0, 1)])
    encoder = StateEncoder()
    assert encoder.dataset_features(dataset).shape == (2, 39)
    np.testing.assert_array_equal(
        encoder.observation_features({"robot_obs": robot[1], "scene_obs": scene[1]}),
        encoder.dataset_features(dataset)[1],
    )


def test_feature_encoder_reads_precomputed_per_frame_features(tmp_path):
    dataset = Dataset(
        np.zeros((3, 15), np.float32),
        np.zeros((3, 24), np.float32),
        np.zeros((3, 7), np.float32),
        np.zeros((3, 7), np.float32),
        [(0, 2)],
    )
    np.save(tmp_path / "latent.npy", np.ones((3, 6), np.float32))
    encoder = FeatureEncoder.from_file(tmp_path / "latent.npy")
    assert encoder.dataset_features(dataset).shape == (3, 6)
    assert build_encoder(encoder.spec()).feature_dim == 6
    np.save(tmp_path / "short.npy", np.ones((2, 6), np.float32))
    with pytest.raises(ValueError, match="expected \\(3, 6\\)"):
        FeatureEncoder.from_file(tmp_path / "short.npy").dataset_features(dataset)
    with pytest.raises(ValueError, match="unknown observation encoder"):
        build_encoder({"kind": "pixels", "feature_dim": 5})


def test_networks_have_the_documented_shapes():
    network = EpsilonMLP(horizon=4, action_dim=7, cond_dim=39, widths=(256, 256, 256))
    assert network.body.lift.in_features == 4 * 7 + 16 + 39
    assert len(network.body.blocks) == 1
    out = network(torch.zeros(3, 4, 7), torch.tensor([0, 5, 19]), torch.zeros(3, 39))
    assert out.shape == (3, 4, 7)
    assert Critic(39, (256, 256, 256))(torch.zeros(5, 39)).shape == (5,)
    assert len(EpsilonMLP(4, 7, 39, (64,) * 5).body.blocks) == 2


def test_policy_bench_prints_json_figures(capsys):
    assert main(["bench", "policy", "--json", "--calls", "200", "--warmup", "2"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("p50_ms", "p95_ms", "ddim5_p50_ms", "ddim5_p95_ms"):
        assert result[key] > 0
    assert result["calls"] == 200 and result["threads"] == 1
    assert main(["bench", "policy", "--calls", "10"]) == 2
