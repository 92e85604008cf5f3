"""train-wm --amp: the image networks run in bfloat16, everything else (weights, RSSM, losses) in
float32, and training tracks a float32 run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from diwa.world_model.config import load_world_model_config
from diwa.world_model.synthetic import point_mass_dataset
from diwa.world_model.trainer import WorldModelTrainer
from test_wm_camera_profile import tiny_camera_config


def tiny_image_config(steps: int):
    """The paper profile (CNNs trained with the RSSM) at toy size."""
    config = load_world_model_config("paper")
    observation = dataclasses.replace(config.observation, cnn_depth=4, mlp_units=16, mlp_layers=1)
    rssm = dataclasses.replace(config.rssm, deter=16, hidden=16, stoch_vars=4, stoch_classes=4)
    config = dataclasses.replace(config, observation=observation, rssm=rssm)
    return config.with_train(
        steps=steps, batch_size=4, seq_len=4, val_batches=2, log_every=1, eval_every=steps, checkpoint_every=steps
    )


def output_dtypes(module: torch.nn.Module, seen: list[torch.dtype]) -> None:
    module.register_forward_hook(lambda _module, _inputs, output: seen.append(output.dtype))


def test_only_the_image_networks_run_in_bfloat16(tmp_path: Path) -> None:
    dataset = point_mass_dataset(32, 12, seed=0, image_size=64)
    trainer = WorldModelTrainer(dataset, tmp_path, tiny_image_config(2), seed=0, progress=False, mixed_precision=True)
    model = trainer.model
    encoder, decoder, gru = [], [], []
    output_dtypes(model.image_encoders["rgb_static"], encoder)
    output_dtypes(model.image_decoders["rgb_gripper"], decoder)
    output_dtypes(model.rssm.gru, gru)
    metrics = trainer.train_step()
    assert np.isfinite(metrics["loss"]) and metrics["image_recon"] > 0
    assert set(encoder) == set(decoder) == {torch.bfloat16}
    assert set(gru) == {torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # Validation runs as the model is deployed: in float32.
    encoder.clear()
    trainer.validate()
    assert set(encoder) == {torch.float32}
    assert trainer.provenance["mixed_precision"] == "bfloat16"


def test_mixed_precision_training_tracks_float32_training(tmp_path: Path) -> None:
    dataset = point_mass_dataset(48, 16, seed=1, image_size=64)
    losses = {}
    for amp in (False, True):
        trainer = WorldModelTrainer(
            dataset, tmp_path / str(amp), tiny_image_config(30), seed=0, progress=False, mixed_precision=amp
        )
        for _ in range(30):
            trainer.train_step()
        losses[amp] = trainer.validate()["loss"]
    assert losses[True] == pytest.approx(losses[False], rel=0.05), losses


def test_the_camera_profile_trains_its_autoencoder_in_bfloat16(tmp_path: Path) -> None:
    from diwa.world_model.image_codes import ImageAutoencoder

    seen: list[torch.dtype] = []
    original = ImageAutoencoder.encode

    def recording(self, key, image):
        code = original(self, key, image)
        seen.append(code.dtype)
        return code

    dataset = point_mass_dataset(64, 16, seed=0, image_size=64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ImageAutoencoder, "encode", recording)
        trainer = WorldModelTrainer(
            dataset, tmp_path, tiny_camera_config(), seed=0, progress=False, mixed_precision=True
        )
    assert torch.bfloat16 in seen  # the autoencoder's training steps
    assert seen[-1] == torch.float32  # the codes the RSSM trains on: computed as deployed
    assert all(p.dtype == torch.float32 for p in trainer.model.autoencoder.parameters())


def test_amp_is_refused_for_a_profile_without_image_networks(tmp_path: Path) -> None:
    dataset = point_mass_dataset(32, 12, seed=0)
    config = load_world_model_config("quick").with_train(steps=1, batch_size=2, seq_len=4)
    with pytest.raises(ValueError, match="--amp runs the image encoders and decoders in bfloat16; the 'quick'"):
        WorldModelTrainer(dataset, tmp_path, config, seed=0, progress=False, mixed_precision=True)
