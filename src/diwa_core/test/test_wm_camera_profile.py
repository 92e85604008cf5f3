"""The camera profile: an image encoder trained first and frozen, an RSSM on its codes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.world_model.config import load_world_model_config
from diwa.world_model.featurize import featurize_dataset
from diwa.world_model.image_codes import code_key
from diwa.world_model.model import WorldModel
from diwa.world_model.store import load_world_model
from diwa.world_model.synthetic import point_mass_dataset
from diwa.world_model.trainer import WorldModelTrainer


def tiny_camera_config(steps: int = 3, encoder_steps: int = 4):
    config = load_world_model_config("camera")
    assert config.observation.kind == "frozen_image" and config.observation.state_keys == ("robot_obs",)
    observation = dataclasses.replace(
        config.observation,
        cnn_depth=2,
        mlp_units=16,
        mlp_layers=1,
        image_code=8,
        encoder_steps=encoder_steps,
        encoder_batch_size=4,
    )
    rssm = dataclasses.replace(config.rssm, deter=16, hidden=16, stoch_vars=4, stoch_classes=4)
    config = dataclasses.replace(config, observation=observation, rssm=rssm)
    return config.with_train(
        steps=steps, batch_size=2, seq_len=4, val_batches=1, log_every=1, eval_every=2, checkpoint_every=2
    )


def test_the_encoder_trains_first_then_only_the_rssm_and_heads_train(tmp_path: Path) -> None:
    dataset = point_mass_dataset(64, 16, seed=0, image_size=64)
    trainer = WorldModelTrainer(dataset, tmp_path / "wm", tiny_camera_config(), seed=0, progress=False)
    encoder_after_stage_one = {k: v.clone() for k, v in trainer.model.autoencoder.state_dict().items()}
    fresh = WorldModel(tiny_camera_config())
    assert any(not torch.equal(v, fresh.autoencoder.state_dict()[k]) for k, v in encoder_after_stage_one.items()), (
        "stage one did not train the image encoder"
    )
    assert not any(p.requires_grad for p in trainer.model.autoencoder.parameters())
    # Training batches hold the precomputed codes, never images.
    obs, _ = trainer.train_sampler.sample(np.random.default_rng(0), 2)
    assert set(obs) == {"robot_obs", code_key("rgb_static"), code_key("rgb_gripper")}
    rssm_before = {k: v.clone() for k, v in trainer.model.rssm.state_dict().items()}
    result = trainer.train()
    assert result is not None and np.isfinite(result.val["code_recon"])
    for k, v in trainer.model.autoencoder.state_dict().items():
        torch.testing.assert_close(v, encoder_after_stage_one[k], rtol=0, atol=0)
    assert any(not torch.equal(v, rssm_before[k]) for k, v in trainer.model.rssm.state_dict().items())
    model, info = load_world_model(tmp_path / "wm")
    assert info.provenance["image_encoder"]["steps"] == 4
    assert info.provenance["image_encoder"]["frames_per_s"] > 0


def test_codes_precomputed_for_training_equal_the_encoder_online(tmp_path: Path) -> None:
    """What the RSSM trained on (codes of the dataset) is what it reads online (encoder per frame):
    featurizing from images reproduces the posterior a batch of precomputed codes gives."""
    dataset = point_mass_dataset(48, 12, seed=1, image_size=64)
    trainer = WorldModelTrainer(dataset, tmp_path / "wm", tiny_camera_config(steps=1), seed=0, progress=False)
    trainer.train()
    model, _ = load_world_model(tmp_path / "wm")
    start, end = dataset.episodes[0]
    obs, prev = trainer.train_sampler.gather(np.array([start]))
    images = {k: torch.from_numpy(np.asarray(dataset.images[k][start : start + 4]))[None] for k in dataset.images}
    with torch.no_grad():
        from_codes = model.embed({k: torch.from_numpy(v) for k, v in obs.items()})
        from_images = model.embed({"robot_obs": torch.from_numpy(obs["robot_obs"]), **images})
    torch.testing.assert_close(from_codes, from_images, rtol=1e-4, atol=1e-4)
    features = featurize_dataset(model, dataset, seed=0)
    assert features.shape == (len(dataset), model.feat_dim) and np.isfinite(features).all()


def test_a_resumed_run_keeps_the_encoder_and_ends_with_the_same_weights(tmp_path: Path) -> None:
    dataset = point_mass_dataset(64, 16, seed=2, image_size=64)
    straight = WorldModelTrainer(dataset, tmp_path / "a", tiny_camera_config(steps=4), seed=0, progress=False)
    straight.train()
    WorldModelTrainer(dataset, tmp_path / "b", tiny_camera_config(steps=2), seed=0, progress=False).train()
    resumed = WorldModelTrainer(
        dataset, tmp_path / "b", tiny_camera_config(steps=4), seed=0, resume=True, progress=False
    )
    resumed.train()
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0, msg=key)


def test_the_decoder_turns_imagined_codes_into_camera_images() -> None:
    torch.manual_seed(0)
    model = WorldModel(tiny_camera_config()).eval()
    obs = {
        "robot_obs": torch.zeros(1, 15),
        "rgb_static": torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8),
        "rgb_gripper": torch.randint(0, 256, (1, 64, 64, 3), dtype=torch.uint8),
    }
    with torch.no_grad():
        decoded = model.decode(model.encode_start(obs).features())
    assert decoded["rgb_static"].shape == decoded["rgb_gripper"].shape == (1, 64, 64, 3)
    assert set(model.observation_keys) == {"robot_obs", "rgb_static", "rgb_gripper"}


@pytest.mark.parametrize(
    ("images", "message"),
    [(None, "no rgb_static images"), (32, "32x32; the camera profile needs 64x64")],
)
def test_camera_training_refuses_play_without_cameras_of_the_right_size(
    tmp_path: Path, images: int | None, message: str
) -> None:
    dataset = point_mass_dataset(64, 16, seed=0, image_size=images)
    with pytest.raises(ValueError, match=message):
        WorldModelTrainer(dataset, tmp_path / "wm", tiny_camera_config(), seed=0, progress=False)
    assert not (tmp_path / "wm" / "world_model.json").exists()


def test_the_camera_profile_is_a_shipped_profile_of_2_cpu_core_size() -> None:
    config = load_world_model_config("camera")
    assert config.observation.cnn_depth == 16 and config.observation.image_size == 64
    assert config.rssm.feat_dim == load_world_model_config("quick").rssm.feat_dim


def test_frames_of_another_size_are_refused_not_resized() -> None:
    model = WorldModel(tiny_camera_config()).eval()
    obs = {
        "robot_obs": torch.zeros(1, 15),
        "rgb_static": torch.zeros(1, 200, 200, 3, dtype=torch.uint8),
        "rgb_gripper": torch.zeros(1, 64, 64, 3, dtype=torch.uint8),
    }
    with pytest.raises(ValueError, match="rgb_static frames are 200x200; .* learnt from 64x64"):
        model.encode_start(obs)


def toggling_patch_frames(count: int, seed: int) -> dict[str, np.ndarray]:
    """Static camera: a large region whose brightness drifts a little and a 3x4 patch (the LED's
    size) switched fully on or off; gripper camera: still."""
    rng = np.random.default_rng(seed)
    static = np.full((count, 64, 64, 3), 90, np.uint8)
    static[:, 8:56, 8:56] = (100 + rng.integers(0, 40, count))[:, None, None, None]
    static[:, 60:63, 30:34] = np.where(rng.random(count) < 0.5, 250, 0)[:, None, None, None]
    return {"rgb_static": static, "rgb_gripper": np.full((count, 64, 64, 3), 128, np.uint8)}


def test_variation_weights_favour_what_play_changes_over_still_background() -> None:
    from diwa.world_model.image_codes import WEIGHT_FLOOR, variation_weights

    images = toggling_patch_frames(200, seed=0)
    weights = variation_weights(images, np.arange(200), 64, np.random.default_rng(0))
    static = weights["rgb_static"]
    assert static.shape == (64, 64) and float(static.mean()) == pytest.approx(1.0, rel=1e-5)
    patch, drifting, still = static[60:63, 30:34], static[8:56, 8:56], static[0:8, 0:8]
    assert float(patch.min()) > 3 * float(drifting.max())  # full switches outweigh small drifts
    assert float(still.max()) < float(drifting.min())
    # The still gripper camera: every pixel keeps the floor, scaled to mean 1.
    torch.testing.assert_close(weights["rgb_gripper"], torch.ones(64, 64))
    assert WEIGHT_FLOOR > 0


def test_unit_weights_train_as_the_unweighted_loss() -> None:
    from diwa.world_model.image_codes import ImageAutoencoder

    torch.manual_seed(0)
    autoencoder = ImageAutoencoder(tiny_camera_config().observation)
    images = {k: torch.from_numpy(v) for k, v in toggling_patch_frames(4, seed=1).items()}
    plain, _ = autoencoder.loss(images)
    ones, metrics = autoencoder.loss(images, {k: torch.ones(64, 64) for k in images})
    torch.testing.assert_close(plain, ones)
    assert set(metrics) == {"rgb_static_recon", "rgb_gripper_recon", "loss"}


def test_variation_weighting_keeps_a_small_switching_patch_that_uniform_weighting_loses(tmp_path: Path) -> None:
    """A one-number code must choose between the large drifting region and the small patch: the
    squared error over all pixels picks the region; weighting by variation picks the patch."""
    from diwa.world_model.image_codes import ImageAutoencoder, train_autoencoder
    from torch.utils.tensorboard import SummaryWriter

    images = toggling_patch_frames(256, seed=2)
    patch_errors = {}
    for weighting in ("uniform", "variation"):
        observation = dataclasses.replace(
            tiny_camera_config().observation,
            cnn_depth=4,
            image_code=1,
            encoder_steps=300,
            encoder_batch_size=16,
            encoder_lr=3e-3,
            encoder_pixel_weighting=weighting,
        )
        torch.manual_seed(0)
        autoencoder = ImageAutoencoder(observation)
        with SummaryWriter(str(tmp_path / weighting)) as writer:
            train_autoencoder(autoencoder, images, np.arange(192), np.arange(192, 256), observation, 0, writer, False)
        with torch.no_grad():
            frames = torch.from_numpy(images["rgb_static"][192:])
            decoded = autoencoder.decode("rgb_static", autoencoder.encode("rgb_static", frames))
            target = frames.permute(0, 3, 1, 2).float() / 255.0 - 0.5
        patch_errors[weighting] = float((decoded - target)[..., 60:63, 30:34].square().mean())
    assert patch_errors["variation"] < 0.5 * patch_errors["uniform"], patch_errors
