"""The paper profile (DiWA's sizes, 64x64 images + proprioception) builds and trains on CPU."""

from pathlib import Path

import numpy as np
import torch
from diwa.world_model.config import load_world_model_config
from diwa.world_model.model import WorldModel
from diwa.world_model.networks import ConvDecoder, ConvEncoder
from diwa.world_model.synthetic import point_mass_dataset
from diwa.world_model.trainer import WorldModelTrainer


def test_cnn_shapes_follow_dreamer() -> None:
    encoder = ConvEncoder(48, (4, 4, 4, 4))
    assert encoder(torch.zeros(2, 3, 64, 64)).shape == (2, 48 * 8 * 2 * 2)
    assert ConvDecoder(2048, 48, (5, 5, 6, 6))(torch.zeros(2, 2048)).shape == (2, 3, 64, 64)


def test_paper_profile_trains_a_few_steps_on_tiny_image_data(tmp_path: Path) -> None:
    config = load_world_model_config("paper").with_train(
        steps=2, batch_size=2, seq_len=3, val_batches=1, log_every=1, eval_every=2, checkpoint_every=2
    )
    assert config.rssm.feat_dim == 2048
    dataset = point_mass_dataset(24, 12, seed=0, image_size=64)
    trainer = WorldModelTrainer(dataset, tmp_path, config, seed=0, progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    # Steps only: saving DiWA-sized weights and optimizer state would dominate the test's time.
    for _ in range(config.train.steps):
        metrics = trainer.train_step()
        assert np.isfinite(metrics["loss"]) and metrics["image_recon"] > 0
    changed = [k for k, v in trainer.model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("image_encoders.rgb_static") for k in changed)
    assert any(k.startswith("image_decoders.rgb_gripper") for k in changed)


def test_paper_model_resizes_camera_images_and_decodes_64x64() -> None:
    torch.manual_seed(0)
    model = WorldModel(load_world_model_config("paper")).eval()
    obs = {
        "robot_obs": torch.zeros(1, 15),
        "scene_obs": torch.zeros(1, 24),
        "rgb_static": torch.randint(0, 256, (1, 200, 200, 3), dtype=torch.uint8),
        "rgb_gripper": torch.randint(0, 256, (1, 84, 84, 3), dtype=torch.uint8),
    }
    with torch.no_grad():
        decoded = model.decode(model.encode_start(obs).features())
    assert decoded["rgb_static"].shape == decoded["rgb_gripper"].shape == (1, 64, 64, 3)
    assert float(decoded["rgb_static"].min()) >= 0.0 and float(decoded["rgb_static"].max()) <= 1.0
    assert decoded["robot_obs"].shape == (1, 15) and "scene_obs" not in decoded
