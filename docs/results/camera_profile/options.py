"""Training speed of the options for a world model on two 64x64 cameras on CPU (issue 25).

Times training steps of (a) DreamerV2's CNN encoder and decoder trained end to end inside the quick
profile's RSSM, at depths 16 and 48, and (b) the camera profile: its image autoencoder alone, then the
RSSM on precomputed codes. Rates per wall second and per CPU second of this process (one core's
throughput, robust to other work on the machine); the core-minutes a profile's steps cost come
from the CPU rates (on 2 cores the wall time is at best half). Writes options.json beside this
script.

    python docs/results/camera_profile/options.py [--threads 1] [--steps 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from diwa.world_model.config import IMAGE_KEYS, load_world_model_config
from diwa.world_model.image_codes import ImageAutoencoder
from diwa.world_model.synthetic import point_mass_dataset
from diwa.world_model.trainer import WorldModelTrainer


def rate(run, items: int) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return {"per_wall_s": items / (time.perf_counter() - wall), "per_cpu_s": items / (time.process_time() - cpu)}


def trainer_rate(config, steps: int) -> dict[str, float]:
    dataset = point_mass_dataset(frames=400, episode_frames=100, seed=0, image_size=64)
    with tempfile.TemporaryDirectory() as out:
        trainer = WorldModelTrainer(dataset, out, config, 0, progress=False)
        trainer.train_step()
        samples = config.train.batch_size * config.train.seq_len
        return rate(lambda: [trainer.train_step() for _ in range(steps)], samples * steps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    camera = load_world_model_config("camera")
    results: dict[str, object] = {"threads": args.threads, "samples_per_step": 32 * 32}
    for depth in (16, 48):
        end_to_end = dataclasses.replace(
            camera, observation=dataclasses.replace(camera.observation, kind="image", cnn_depth=depth)
        )
        results[f"end_to_end_depth{depth}_frames"] = trainer_rate(end_to_end, args.steps)
    tiny_encoder = dataclasses.replace(
        camera, observation=dataclasses.replace(camera.observation, encoder_steps=1, encoder_batch_size=2)
    )
    results["camera_rssm_on_codes_frames"] = trainer_rate(tiny_encoder, 10 * args.steps)
    autoencoder = ImageAutoencoder(camera.observation)
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    batch = {k: torch.from_numpy(rng.integers(0, 256, (64, 64, 64, 3), np.uint8)) for k in IMAGE_KEYS}

    def encoder_steps() -> None:
        for _ in range(5 * args.steps):
            loss, _ = autoencoder.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    results["camera_encoder_frames"] = rate(encoder_steps, 64 * 5 * args.steps)
    steps = camera.train.steps
    for key in ("end_to_end_depth16_frames", "end_to_end_depth48_frames"):
        results[key.replace("_frames", "_core_min_for_profile_steps")] = steps * 1024 / results[key]["per_cpu_s"] / 60
    results["camera_core_min_for_profile_steps"] = (
        camera.observation.encoder_steps
        * camera.observation.encoder_batch_size
        / results["camera_encoder_frames"]["per_cpu_s"]
        + steps * 1024 / results["camera_rssm_on_codes_frames"]["per_cpu_s"]
    ) / 60
    out = Path(__file__).with_name("options.json")
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
