"""`diwa train-policy`: behaviour cloning of one skill's diffusion policy from demonstrations."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from diwa import distributed
from diwa.data.dataset import load_dataset
from diwa.output_dirs import check_output_dir, policy_dir
from diwa.policy.bc import skill_episodes, train_bc
from diwa.policy.checkpoint import save_policy
from diwa.policy.config import PROFILES, load_policy_config
from diwa.policy.encoder import FeatureEncoder, ObservationEncoder, StateEncoder
from diwa.skills import SKILLS, check_skill


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-policy",
        help="behaviour-clone a skill's diffusion policy from demonstrations",
        description="Behaviour cloning of a diffusion policy on the demonstrations of one skill "
        "(episodes annotated with the skill in a consolidated dataset). Writes a checkpoint "
        "(weights-<sha>.safetensors + policy.json, replaced as a pair) and TensorBoard scalars into --out.",
    )
    parser.add_argument("--skill", required=True, help=f"one of: {', '.join(SKILLS)}")
    parser.add_argument("--demos", required=True, type=Path, help="consolidated dataset directory")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint directory to write")
    parser.add_argument("--profile", default="quick", help=f"{' | '.join(PROFILES)} or a YAML file (default quick)")
    parser.add_argument("--epochs", type=int, help="override the profile's number of epochs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-demos", type=int, help="use only the first N demonstrations of the skill")
    parser.add_argument(
        "--features", type=Path, help="precomputed per-frame features (.npy, frames x dim) instead of the state"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:N or mps (default cpu)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing policy of the same skill at --out"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run_train_policy)


def run_train_policy(args: argparse.Namespace) -> int:
    distributed.check_device(args.device)
    return distributed.run(args.device, lambda ranks, device: _train_policy(args, ranks, device))


def _train_policy(args: argparse.Namespace, ranks: distributed.Ranks, device: str) -> int:
    skill = check_skill(args.skill)
    if args.max_demos is not None and args.max_demos < 1:
        raise ValueError(f"--max-demos must be positive, got {args.max_demos}")
    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    inputs = [args.demos] + ([args.features] if args.features else [])
    check_output_dir(args.out, overwrite=args.overwrite, inputs=inputs, replaceable=policy_dir(skill))
    torch.set_num_threads(args.threads)
    config = load_policy_config(args.profile)
    if args.epochs is not None:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=args.epochs))

    # With the images (memory-mapped, only sampled by the hash): the recorded hash must be the one
    # fine-tuning computes when it loads these demonstrations as start states, cameras included.
    dataset = load_dataset(args.demos)
    encoder: ObservationEncoder = FeatureEncoder.from_file(args.features) if args.features else StateEncoder()
    episodes = skill_episodes(dataset, skill)
    if not episodes:
        tasks = sorted({a.task for a in dataset.annotations})
        raise ValueError(f"{args.demos} has no episode annotated with {skill!r} (tasks present: {tasks})")
    if args.max_demos is not None:
        episodes = episodes[: args.max_demos]
    provenance = {
        "dataset": str(args.demos.resolve()),
        "dataset_hash": dataset.content_hash(),
        "demos": len(episodes),
        "profile": config.profile,
    }
    if args.features:
        provenance["features"] = str(args.features.resolve())
    result = train_bc(
        config,
        skill,
        encoder.dataset_features(dataset),
        dataset.rel_actions,
        episodes,
        encoder_spec=encoder.spec(),
        seed=args.seed,
        provenance=provenance,
        log_dir=args.out / "tensorboard",
        progress=not args.no_progress,
        ranks=ranks,
        device=device,
    )
    if not ranks.is_main:  # rank 0 writes
        return 0
    meta_path = save_policy(result.policy, args.out, training=result.summary)
    print(f"saved {skill} policy to {meta_path.parent} ({len(episodes)} demos)")
    print(json.dumps(result.summary))
    return 0
