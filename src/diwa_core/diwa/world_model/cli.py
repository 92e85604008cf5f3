"""`diwa train-wm`, `eval-wm`, `featurize` and `train-reward`: the world-model stage of the pipeline."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from diwa import distributed
from diwa.atomic import write_atomically, write_file_atomically
from diwa.data.dataset import load_dataset
from diwa.distributed import check_device
from diwa.skills import SKILLS, check_skill
from diwa.world_model.config import IMAGE_KINDS, PROFILES, load_world_model_config
from diwa.world_model.evaluate import HORIZONS, format_report, held_out_ranges, open_loop_errors
from diwa.world_model.featurize import featurize_dataset
from diwa.world_model.reward import load_reward_config
from diwa.world_model.reward_training import LABEL_SOURCES, train_skill_reward
from diwa.world_model.store import load_world_model
from diwa.world_model.trainer import WorldModelTrainer

HELD_OUT_WARN_RATIO = 3.0
"""A held-out loss this many times the training loss means held-out data unlike the training data."""


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_train(subparsers)
    _register_eval(subparsers)
    _register_featurize(subparsers)
    _register_reward(subparsers)


def _common(parser: argparse.ArgumentParser, *, seed_help: str) -> None:
    parser.add_argument("--seed", type=int, default=0, help=seed_help)
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def _setup(args: argparse.Namespace) -> None:
    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    check_device(args.device)
    torch.set_num_threads(args.threads)


def _register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-wm",
        help="train the world model on play data",
        description="Train the RSSM world model on random windows of a consolidated play dataset. Writes "
        "world_model.json + weights (checkpointed regularly; --resume continues an interrupted run) and "
        "TensorBoard scalars into --out.",
    )
    parser.add_argument("--data", required=True, type=Path, help="consolidated dataset directory")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint directory")
    parser.add_argument("--profile", default="quick", help=f"{' | '.join(PROFILES)} or a YAML file (default quick)")
    parser.add_argument("--steps", type=int, help="total training steps (default: the profile's)")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    parser.add_argument("--json", action="store_true", help="end with a JSON summary on the last line")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--amp",
        action="store_true",
        help="image profiles: run the CNN encoders and decoders in bfloat16 (weights, RSSM and losses stay float32)",
    )
    _common(parser, seed_help="seed for initialisation, data split and sampling (default 0)")
    parser.set_defaults(run=run_train_wm)


def run_train_wm(args: argparse.Namespace) -> int:
    _setup(args)
    return distributed.run(args.device, lambda ranks, device: _train_wm(args, ranks, device))


def _train_wm(args: argparse.Namespace, ranks: distributed.Ranks, device: str) -> int:
    config = load_world_model_config(args.profile)
    if args.steps is not None:
        if args.steps < 1:
            raise ValueError(f"--steps must be positive, got {args.steps}")
        config = config.with_train(steps=args.steps)
    dataset = load_dataset(args.data, images=config.observation.kind in IMAGE_KINDS)
    trainer = WorldModelTrainer(
        dataset,
        args.out,
        config,
        args.seed,
        data_path=args.data,
        resume=args.resume,
        device=device,
        progress=not args.no_progress,
        ranks=ranks,
        mixed_precision=args.amp,
    )
    result = trainer.train()
    if result is None:  # not rank 0: rank 0 reports
        return 0
    print(
        f"trained {config.profile} world model to step {result.step} in {result.wall_s:.1f} s "
        f"({result.samples_per_s:.0f} samples/s"
        + (f" over {ranks.world_size} processes" if ranks.distributed else "")
        + f"); checkpoint {result.checkpoint}"
    )
    print("validation: " + ", ".join(f"{k} {v:.4f}" for k, v in result.val.items()))
    ratio = result.val["loss"] / max(abs(result.fit["loss"]), 1e-9)
    print(f"loss on held-out windows {result.val['loss']:.4f}, on training windows {result.fit['loss']:.4f}")
    if ratio > HELD_OUT_WARN_RATIO:
        print(
            f"WARNING: the held-out loss is {ratio:.0f}x the training loss: the held-out episodes hold states "
            "the training frames do not (check the data with `diwa eval-wm` and for outlying frames)"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "step": result.step,
                    "train": result.train,
                    "val": result.val,
                    "train_windows": result.fit,
                    "samples_per_s": result.samples_per_s,
                    "processes": ranks.world_size,
                    "wall_s": result.wall_s,
                    "checkpoint": str(result.checkpoint),
                }
            )
        )
    return 0


def _register_eval(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval-wm",
        help="open-loop prediction error of a world model vs the no-change baseline",
        description="Encode single held-out observations, imagine forward through the recorded actions and "
        f"compare the predictions at {', '.join(map(str, HORIZONS))} steps with the recorded "
        "observations and with the baseline that predicts no change. Columns: model (the state decoded "
        "from the imagined latent), anchored (the start observation plus the change head's predicted "
        "change; models with observation.change_head) and no-change. On the training dataset the "
        "held-out segments are used; on any other dataset, all of it.",
    )
    parser.add_argument("--wm", required=True, type=Path, help="world-model checkpoint (directory or .json)")
    parser.add_argument("--data", required=True, type=Path, help="consolidated dataset directory")
    parser.add_argument("--starts", type=int, default=512, help="number of start frames (default 512)")
    parser.add_argument("--json", action="store_true", help="end with the JSON report on the last line")
    _common(parser, seed_help="seed for start frames and latent samples (default 0)")
    parser.set_defaults(run=run_eval_wm)


def run_eval_wm(args: argparse.Namespace) -> int:
    _setup(args)
    if args.starts < 1:
        raise ValueError(f"--starts must be positive, got {args.starts}")
    model, info = load_world_model(args.wm, args.device)
    dataset = load_dataset(args.data, images=model.uses_images)
    ranges, where = held_out_ranges(info, dataset)
    report = open_loop_errors(model, dataset, ranges, max_starts=args.starts, seed=args.seed)
    print(format_report(report, where))
    if args.json:
        print(json.dumps({"where": where, "checkpoint": str(info.path), **report}))
    return 0


def _register_featurize(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "featurize",
        help="per-frame world-model features of a dataset (.npy for latent-conditioned policies)",
        description="Filter every episode with the world model's posterior and write the (frames x features) "
        "float32 array aligned with the dataset's frames, plus a JSON file naming the model and data.",
    )
    parser.add_argument("--wm", required=True, type=Path, help="world-model checkpoint (directory or .json)")
    parser.add_argument("--data", required=True, type=Path, help="consolidated dataset directory")
    parser.add_argument("--out", required=True, type=Path, help="output .npy file")
    _common(parser, seed_help="seed of the latent samples; episode k uses seed + k (default 0)")
    parser.set_defaults(run=run_featurize)


def run_featurize(args: argparse.Namespace) -> int:
    _setup(args)
    if args.out.suffix != ".npy":
        raise ValueError(f"--out must name a .npy file, got {args.out}")
    model, info = load_world_model(args.wm, args.device)
    dataset = load_dataset(args.data, images=model.uses_images)
    features = featurize_dataset(model, dataset, seed=args.seed, progress=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(args.out, lambda tmp: np.save(tmp, features))
    sidecar = {
        "world_model": {"path": str(info.path), "weights_sha256": info.weights_sha256},
        "dataset": {"path": str(args.data.resolve()), "hash": dataset.content_hash()},
        "seed": args.seed,
        "shape": list(features.shape),
    }
    write_atomically(args.out.with_suffix(".json"), json.dumps(sidecar, indent=1))
    print(f"wrote {features.shape[0]} x {features.shape[1]} features to {args.out}")
    return 0


def _register_reward(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-reward",
        help="train a skill's reward classifier on world-model features",
        description="Label frames as done / not done for one skill, featurize the dataset with the world "
        "model, and train the binary reward classifier used in imagination. Prints held-out "
        "precision, recall and F1; writes reward_<skill>.json + weights into --out.",
    )
    parser.add_argument("--skill", required=True, help=f"one of: {', '.join(SKILLS)}")
    parser.add_argument("--wm", required=True, type=Path, help="world-model checkpoint (directory or .json)")
    parser.add_argument("--data", required=True, type=Path, help="consolidated dataset directory")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--epochs", type=int, help="override the configured number of epochs")
    parser.add_argument(
        "--layout-shuffles",
        type=int,
        help="override the configured number of training copies with other episodes' block layouts "
        "(0 for play of a single episode)",
    )
    parser.add_argument(
        "--config", type=Path, help="reward YAML with a section per world-model profile (default: packaged reward.yaml)"
    )
    parser.add_argument(
        "--labels",
        choices=LABEL_SOURCES,
        default="oracle",
        help="oracle: the simulator's task oracle against start states of the skill (DiWA's choice, default); "
        "annotations: the completion frames of the skill's annotation windows",
    )
    parser.add_argument("--json", action="store_true", help="end with a JSON summary on the last line")
    _common(parser, seed_help="seed for split, features and training (default 0)")
    parser.set_defaults(run=run_train_reward)


def run_train_reward(args: argparse.Namespace) -> int:
    _setup(args)
    skill = check_skill(args.skill)
    model, info = load_world_model(args.wm, args.device)
    config = load_reward_config(info.config.profile, args.config)
    if args.epochs is not None:
        if args.epochs < 1:
            raise ValueError(f"--epochs must be positive, got {args.epochs}")
        config = dataclasses.replace(config, epochs=args.epochs)
    if args.layout_shuffles is not None:
        config = dataclasses.replace(config, layout_shuffles=args.layout_shuffles)
    dataset = load_dataset(args.data, images=model.uses_images)
    trained = train_skill_reward(model, info, dataset, args.data, skill, config, args.labels, args.seed, args.out)
    print(
        f"{skill}: {trained.positives} positive / {trained.negatives} negative labelled frames ({args.labels}; "
        f"trained with {config.layout_shuffles} layout-shuffled copies); saved {trained.checkpoint}"
    )
    val = trained.metrics["val"]
    if val is None or val["positives"] == 0:
        print("held-out: no positive frames (too few completions to hold some out); scores undefined")
    else:
        print(
            f"held-out ({val['positives']} positive / {val['negatives']} negative): precision {val['precision']:.3f}  "
            f"recall {val['recall']:.3f}  F1 {val['f1']:.3f}"
        )
    if args.json:
        print(
            json.dumps(
                {"skill": skill, "checkpoint": str(trained.checkpoint), "labels": args.labels, **trained.metrics}
            )
        )
    return 0
