"""`diwa bench world-model`: training and imagination throughput of the world model on CPU.

Fine-tuning in imagination must reach 20,000 imagined primitive steps/s including policy sampling
and reward scoring, so the world model's share (a batched prior step, plus the reward classifier
on the last latent of every 4-step chunk) must be far faster than that on its own.
Throughput does not depend on trained weights, so fresh models on synthetic data are timed
unless a checkpoint is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diwa.skills import CHUNK_STEPS
from diwa.world_model.config import IMAGE_KEYS, load_world_model_config
from diwa.world_model.image_codes import ImageAutoencoder
from diwa.world_model.model import ACTION_DIM, WorldModel
from diwa.world_model.reward import RewardClassifier, load_reward_config
from diwa.world_model.store import load_world_model
from diwa.world_model.synthetic import point_mass_dataset
from diwa.world_model.trainer import WorldModelTrainer

IMAGINATION_TARGET = 20_000


def register_bench(subparsers: argparse._SubParsersAction) -> None:
    _register_camera_bench(subparsers)
    parser = subparsers.add_parser("world-model", help="world-model training samples/s and imagined steps/s")
    parser.add_argument("--wm", type=Path, help="world-model checkpoint to time (default: fresh quick model)")
    parser.add_argument("--batch", type=int, default=50, help="parallel imagined rollouts (default 50, DiWA's)")
    parser.add_argument("--imagine-steps", type=int, default=2000, help="timed prior steps (default 2000)")
    parser.add_argument("--train-steps", type=int, default=30, help="timed training steps (default 30)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(run=run_world_model_bench)


@dataclass(frozen=True)
class Rate:
    """Items per second of wall time, and per second of this process's CPU time. On a shared
    machine the second is the one to compare: it does not count time spent waiting for a core."""

    wall: float
    cpu: float


def timed(run: Callable[[], None], items: int) -> Rate:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return Rate(items / (time.perf_counter() - wall), items / max(time.process_time() - cpu, 1e-9))


@torch.no_grad()
def imagination_rate(model: WorldModel, batch: int, steps: int, seed: int, reward: RewardClassifier | None) -> Rate:
    """Imagined primitive steps per second (batch x steps / time), prior sampling at temperature 1."""
    generator = torch.Generator().manual_seed(seed)
    actions = torch.rand(steps, batch, ACTION_DIM, generator=generator) * 2 - 1
    start = {
        "robot_obs": torch.randn(batch, 15, generator=generator),
        "scene_obs": torch.randn(batch, 24, generator=generator),
    }
    state = model.encode_start(start, generator)

    def rollout(length: int) -> None:
        current = state
        for t in range(length):
            current = model.step(current, actions[t], generator)
            if reward is not None and t % CHUNK_STEPS == CHUNK_STEPS - 1:
                reward.reward(current.features())

    rollout(20)  # warm-up
    return timed(lambda: rollout(steps), batch * steps)


def training_rate(steps: int, seed: int) -> tuple[Rate, int]:
    """Samples (sequence steps) per second of quick-profile training, and samples per batch."""
    config = load_world_model_config("quick")
    dataset = point_mass_dataset(frames=4000, episode_frames=400, seed=seed)
    samples = config.train.batch_size * config.train.seq_len
    with tempfile.TemporaryDirectory() as out:
        trainer = WorldModelTrainer(dataset, out, config, seed, progress=False)

        def train(count: int) -> None:
            for _ in range(count):
                trainer.train_step()

        train(3)  # warm-up
        return timed(lambda: train(steps), samples * steps), samples


def run_world_model_bench(args: argparse.Namespace) -> int:
    if min(args.batch, args.imagine_steps, args.train_steps, args.threads) < 1:
        raise ValueError("--batch, --imagine-steps, --train-steps and --threads must be positive")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.wm is not None:
        model, info = load_world_model(args.wm)
        profile = info.config.profile
    else:
        model, profile = WorldModel(load_world_model_config("quick")).eval(), "quick"
    classifier = RewardClassifier(model.feat_dim, load_reward_config(profile)).eval()
    prior = imagination_rate(model, args.batch, args.imagine_steps, args.seed, None)
    with_reward = imagination_rate(model, args.batch, args.imagine_steps, args.seed, classifier)
    train, per_batch = training_rate(args.train_steps, args.seed)
    print(f"{profile} world model, {args.threads} thread(s); rates per wall second (per CPU second)")
    print(f"imagination, batch {args.batch}: {prior.wall:,.0f} ({prior.cpu:,.0f}) prior steps/s")
    print(
        f"  with the reward classifier on every {CHUNK_STEPS}th latent: "
        f"{with_reward.wall:,.0f} ({with_reward.cpu:,.0f}) "
        f"steps/s; the whole imagination loop incl. policy targets {IMAGINATION_TARGET:,}"
    )
    print(f"training (quick profile, {per_batch} samples per batch): {train.wall:,.0f} ({train.cpu:,.0f}) samples/s")
    if args.json:
        print(
            json.dumps(
                {
                    "profile": profile,
                    "threads": args.threads,
                    "batch": args.batch,
                    "prior_steps_per_s": prior.wall,
                    "prior_steps_per_cpu_s": prior.cpu,
                    "prior_steps_with_reward_per_s": with_reward.wall,
                    "prior_steps_with_reward_per_cpu_s": with_reward.cpu,
                    "train_samples_per_s": train.wall,
                    "train_samples_per_cpu_s": train.cpu,
                    "train_samples_per_batch": per_batch,
                }
            )
        )
    return 0


def _register_camera_bench(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "camera-world-model", help="camera-profile training: image-encoder frames/s and RSSM samples/s"
    )
    parser.add_argument("--encoder-steps", type=int, default=10, help="timed image-encoder steps (default 10)")
    parser.add_argument("--train-steps", type=int, default=30, help="timed RSSM training steps (default 30)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2, the CPU target)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(run=run_camera_world_model_bench)


def run_camera_world_model_bench(args: argparse.Namespace) -> int:
    """The camera profile's two training stages at their configured batch sizes, and the whole
    training's duration they imply (docs/camera_profile.md: at most 90 minutes on 2 cores)."""
    if min(args.encoder_steps, args.train_steps, args.threads) < 1:
        raise ValueError("--encoder-steps, --train-steps and --threads must be positive")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = load_world_model_config("camera")
    obs = config.observation
    autoencoder = ImageAutoencoder(obs)
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=obs.encoder_lr)
    rng = np.random.default_rng(args.seed)
    shape = (obs.encoder_batch_size, obs.image_size, obs.image_size, 3)
    images = {k: torch.from_numpy(rng.integers(0, 256, shape, np.uint8)) for k in IMAGE_KEYS}

    def encoder_steps(count: int) -> None:
        for _ in range(count):
            loss, _ = autoencoder.loss(images)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    encoder_steps(2)  # warm-up
    encoder = timed(lambda: encoder_steps(args.encoder_steps), obs.encoder_batch_size * args.encoder_steps)
    # The RSSM stage trains on precomputed codes: time its steps on a tiny dataset (encoder barely trained).
    tiny = dataclasses.replace(config, observation=dataclasses.replace(obs, encoder_steps=1, encoder_batch_size=2))
    dataset = point_mass_dataset(frames=400, episode_frames=100, seed=args.seed, image_size=64)
    samples = config.train.batch_size * config.train.seq_len
    with tempfile.TemporaryDirectory() as out:
        trainer = WorldModelTrainer(dataset, out, tiny, args.seed, progress=False)

        def train(count: int) -> None:
            for _ in range(count):
                trainer.train_step()

        train(3)  # warm-up
        rssm = timed(lambda: train(args.train_steps), samples * args.train_steps)
    encoder_s = obs.encoder_steps * obs.encoder_batch_size / encoder.wall
    minutes = (encoder_s + config.train.steps * samples / rssm.wall) / 60
    print(f"camera world model, {args.threads} thread(s); rates per wall second (per CPU second)")
    print(f"image encoder (two cameras, depth {obs.cnn_depth}): {encoder.wall:,.0f} ({encoder.cpu:,.0f}) frames/s")
    print(f"RSSM on the codes ({samples} samples per batch): {rssm.wall:,.0f} ({rssm.cpu:,.0f}) samples/s")
    print(
        f"the profile's {obs.encoder_steps:,} encoder and {config.train.steps:,} RSSM steps: about {minutes:.0f} min "
        "(target: at most 90)"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "profile": "camera",
                    "threads": args.threads,
                    "encoder_frames_per_s": encoder.wall,
                    "encoder_frames_per_cpu_s": encoder.cpu,
                    "rssm_samples_per_s": rssm.wall,
                    "rssm_samples_per_cpu_s": rssm.cpu,
                    "estimated_training_min": minutes,
                    "target_training_min": 90,
                }
            )
        )
    return 0
