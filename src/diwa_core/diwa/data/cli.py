"""`diwa data ...`: record play and demonstrations in the simulator, convert between layouts (ours,
CALVIN's, LeRobot's)."""

from __future__ import annotations

import argparse
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from diwa.data.convert import LAYOUTS, convert, detect_layout, read_any, write_layout
from diwa.data.dataset import Dataset, save_dataset, scene_absent
from diwa.data.recorder import EpisodeRecorder
from diwa.data.recording_cli import add_from_bag, add_inspect
from diwa.output_dirs import check_output_dir, dataset_dir, scratch_beside
from diwa.robot_contract import CONTROL_RATE_HZ
from diwa.sim.geometry import ROBOT_BASE_POS
from diwa.sim.play import PlayConfig
from diwa.skills import EPISODE_STEP_LIMIT, SKILLS, parse_skill_list

if TYPE_CHECKING:
    from diwa.sim.env import PlayTableEnv


def register(subparsers: argparse._SubParsersAction) -> None:
    commands = _data_group(subparsers)

    play = commands.add_parser("collect-play", help="record scripted play in the simulator")
    play.add_argument("--frames", type=int, required=True, help="number of frames to record")
    play.add_argument(
        "--episode-frames", type=int, default=PlayConfig.episode_frames, help="frames between scene re-randomisations"
    )
    play.add_argument(
        "--near-miss-prob",
        type=float,
        default=PlayConfig.near_miss_prob,
        help="fraction of skill attempts performed a few centimetres beside their target",
    )
    play.add_argument(
        "--near-miss-m",
        type=float,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=PlayConfig.near_miss_m,
        help="range of a near miss's displacement in metres (default %(default)s)",
    )
    play.add_argument(
        "--free-motion-box",
        type=float,
        nargs=6,
        metavar=("XMIN", "YMIN", "ZMIN", "XMAX", "YMAX", "ZMAX"),
        default=(*PlayConfig.free_motion_low, *PlayConfig.free_motion_high),
        help="box of TCP positions that free motions aim for, in metres (default %(default)s)",
    )
    _add_output_arguments(play)
    play.set_defaults(run=_run_collect_play)

    demos = commands.add_parser("collect-demos", help="record successful scripted demonstrations of one skill")
    demos.add_argument("--skill", required=True, choices=SKILLS)
    demos.add_argument("--episodes", type=int, required=True, help="number of successful demonstrations")
    demos.add_argument("--max-steps", type=int, default=EPISODE_STEP_LIMIT, help="step limit per demonstration")
    demos.add_argument("--noise", type=float, default=None, help="std of the expert's action noise (default: its own)")
    _add_output_arguments(demos)
    demos.set_defaults(run=_run_collect_demos)

    rollouts = commands.add_parser(
        "collect-rollouts",
        help="record a policy's own episodes (counted simulator steps) as extra world-model data",
    )
    rollouts.add_argument("--policy", required=True, help="'scripted', a checkpoint, or a directory DIR/<skill>")
    rollouts.add_argument("--skills", default="all", help="'all' or a comma-separated list (default all)")
    rollouts.add_argument("--episodes", type=int, required=True, help="episodes per skill")
    rollouts.add_argument(
        "--steps", type=int, default=EPISODE_STEP_LIMIT, help="actions per episode; not cut at success"
    )
    _add_output_arguments(rollouts)
    rollouts.set_defaults(run=_run_collect_rollouts)

    concat = commands.add_parser("concat", help="join consolidated datasets into one (play + rollouts)")
    concat.add_argument("src", nargs="+", help="consolidated dataset directories, in order")
    concat.add_argument("--out", required=True, help="output directory")
    _add_overwrite(concat)
    concat.set_defaults(run=_run_concat)

    conv = commands.add_parser("convert", help="convert a dataset between the consolidated and CALVIN layouts")
    conv.add_argument("src", help="dataset directory (either layout)")
    conv.add_argument("dst", help="output directory")
    conv.add_argument("--to", choices=LAYOUTS, default=None, help="output layout (default: the other one)")
    _add_overwrite(conv)
    conv.set_defaults(run=_run_convert)

    add_from_bag(commands)
    add_inspect(commands)
    _add_lerobot(commands)


def _add_lerobot(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export-lerobot",
        help="write a dataset in the LeRobot dataset format v3.0 (Parquet tables, AV1 videos)",
        description="Write a dataset (consolidated or CALVIN layout) as a LeRobot v3.0 dataset: robot_obs as "
        "observation.state, rel_actions as action, the cameras as AV1 videos, annotations as tasks "
        "(docs/reference.md §6).",
    )
    export.add_argument("src", metavar="DATASET", help="dataset directory (either layout)")
    export.add_argument("--out", required=True, help="LeRobot dataset directory to write")
    export.add_argument("--fps", type=int, default=int(CONTROL_RATE_HZ), help="frame rate (default %(default)s)")
    export.add_argument("--robot-type", default="franka", help="info.json's robot_type (default %(default)s)")
    export.add_argument(
        "--overwrite", action="store_true", help="replace an existing LeRobot dataset at --out (never other data)"
    )
    export.add_argument("--quiet", action="store_true", help="no progress bars")
    export.set_defaults(run=_run_export_lerobot)

    imp = commands.add_parser(
        "import-lerobot",
        help="read a LeRobot v3.0 dataset (ours, or one recorded on a Franka) as a consolidated dataset",
        description="Read a LeRobot v3.0 dataset as play: DiWA's own export back as it was, or a Franka "
        "recording (7 joint angles and the gripper width), whose TCP pose, relative actions and gripper "
        "actions are computed from the recorded motion. Cameras keep their size; a real cell's missing "
        "scene state is stored as zeros and marked absent in the provenance (diwa.data.lerobot_import).",
    )
    imp.add_argument("src", metavar="DIR", help="LeRobot dataset directory")
    imp.add_argument("--out", required=True, help="consolidated dataset directory to write")
    imp.add_argument("--static-camera", metavar="KEY", help="the video feature of the static camera")
    imp.add_argument("--wrist-camera", metavar="KEY", help="the video feature of the wrist (gripper) camera")
    imp.add_argument(
        "--base-in-scene",
        type=float,
        nargs=3,
        default=ROBOT_BASE_POS,
        metavar=("X", "Y", "Z"),
        help="where a Franka's base stands in the scene frame (default CALVIN's)",
    )
    _add_overwrite(imp)
    imp.add_argument("--quiet", action="store_true", help="no progress bars")
    imp.set_defaults(run=_run_import_lerobot)


def _data_group(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    parser = subparsers.add_parser("data", help="datasets: play, demonstrations, layouts, recordings")
    return parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND", required=True)


def _add_overwrite(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing dataset at the output (never other data)"
    )


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory")
    _add_overwrite(parser)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--layout", choices=LAYOUTS, default="consolidated")
    parser.add_argument("--cameras", action="store_true", help="record rgb_static and rgb_gripper images")
    parser.add_argument("--static-size", type=int, default=200, help="static camera image size (pixels)")
    parser.add_argument("--gripper-size", type=int, default=84, help="gripper camera image size (pixels)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _make_env(args: argparse.Namespace) -> PlayTableEnv:
    from diwa.sim.config import SimConfig
    from diwa.sim.env import PlayTableEnv

    cameras = ("static", "gripper") if args.cameras else ()
    config = SimConfig(cameras=cameras, static_size=args.static_size, gripper_size=args.gripper_size, seed=args.seed)
    return PlayTableEnv(config)


def _recorder(args: argparse.Namespace, capacity: int, scratch: Path) -> EpisodeRecorder:
    sizes = {"rgb_static": args.static_size, "rgb_gripper": args.gripper_size} if args.cameras else {}
    return EpisodeRecorder(capacity, sizes, image_dir=scratch if args.cameras else None)


def _finish(args: argparse.Namespace, dataset: Dataset, started: float) -> int:
    path = write_layout(dataset, args.out, args.layout, progress=not args.quiet)
    print(
        f"wrote {len(dataset)} frames, {len(dataset.episodes)} episodes, {len(dataset.annotations)} annotations "
        f"({args.layout} layout) to {path} in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _scratch_dir(args: argparse.Namespace, inputs: tuple[str, ...] = ()) -> AbstractContextManager[Path]:
    """Check --out (before any simulator time is spent), then a scratch directory beside it for
    memory-mapped images, removed after."""
    return scratch_beside(check_output_dir(args.out, overwrite=args.overwrite, inputs=inputs, replaceable=dataset_dir))


def _run_collect_play(args: argparse.Namespace) -> int:
    from diwa.sim.play import generate_play

    started = time.perf_counter()
    config = PlayConfig(
        frames=args.frames,
        seed=args.seed,
        episode_frames=args.episode_frames,
        near_miss_prob=args.near_miss_prob,
        near_miss_m=tuple(args.near_miss_m),
        free_motion_low=tuple(args.free_motion_box[:3]),
        free_motion_high=tuple(args.free_motion_box[3:]),
    )
    with _scratch_dir(args) as scratch:
        env = _make_env(args)
        dataset = generate_play(env, config, _recorder(args, args.frames, scratch), progress=not args.quiet)
        env.close()
        return _finish(args, dataset, started)


def _run_collect_demos(args: argparse.Namespace) -> int:
    from diwa.data.demos import collect_demos
    from diwa.sim.expert import DEFAULT_NOISE

    if args.episodes < 1 or args.max_steps < 1:
        raise ValueError(f"--episodes and --max-steps must be positive, got {args.episodes} and {args.max_steps}")
    started = time.perf_counter()
    noise = DEFAULT_NOISE if args.noise is None else args.noise
    with _scratch_dir(args) as scratch:
        env = _make_env(args)
        recorder = _recorder(args, args.episodes * (args.max_steps + 1), scratch)
        dataset = collect_demos(
            env, args.skill, args.episodes, args.seed, noise, recorder, args.max_steps, progress=not args.quiet
        )
        env.close()
        return _finish(args, dataset, started)


def _run_collect_rollouts(args: argparse.Namespace) -> int:
    from diwa.data.rollouts import collect_rollouts
    from diwa.eval.agents import load_agent

    skills = parse_skill_list(args.skills)
    if args.episodes < 1 or args.steps < 1:
        raise ValueError(f"--episodes and --steps must be positive, got {args.episodes} and {args.steps}")
    # Fail on a missing checkpoint before any simulator time is spent.
    agents = {skill: load_agent(args.policy, skill, args.seed) for skill in skills}
    started = time.perf_counter()
    inputs = () if args.policy == "scripted" else (args.policy,)
    with _scratch_dir(args, inputs) as scratch:
        env = _make_env(args)
        recorder = _recorder(args, len(skills) * args.episodes * args.steps, scratch)
        dataset = collect_rollouts(
            env,
            agents.__getitem__,
            skills,
            args.episodes,
            args.seed,
            args.steps,
            recorder,
            provenance={"policy": str(args.policy)},
            progress=not args.quiet,
        )
        env.close()
        print("successes: " + ", ".join(f"{k} {v}/{args.episodes}" for k, v in dataset.provenance["successes"].items()))
        return _finish(args, dataset, started)


def _run_concat(args: argparse.Namespace) -> int:
    from diwa.data.dataset import concat_datasets

    check_output_dir(args.out, overwrite=args.overwrite, inputs=args.src, replaceable=dataset_dir)
    parts = [read_any(src, progress=False) for src in args.src]
    dataset = concat_datasets(parts)
    save_dataset(dataset, args.out)
    sizes = " + ".join(str(len(d)) for d in parts)
    print(f"wrote {len(dataset)} frames ({sizes}), {len(dataset.episodes)} episodes to {args.out}")
    return 0


def _run_convert(args: argparse.Namespace) -> int:
    check_output_dir(args.dst, overwrite=args.overwrite, inputs=(args.src,), replaceable=dataset_dir)
    layout = args.to or ("calvin" if detect_layout(args.src) == "consolidated" else "consolidated")
    path = convert(args.src, args.dst, layout)
    print(f"converted {args.src} to {path} ({layout} layout)")
    return 0


def _run_export_lerobot(args: argparse.Namespace) -> int:
    from diwa.data.dataset import load_dataset
    from diwa.data.lerobot_export import export_lerobot, lerobot_dir

    check_output_dir(args.out, overwrite=args.overwrite, inputs=(args.src,), replaceable=lerobot_dir)
    started = time.perf_counter()
    # Consolidated images stay memory-mapped: the encoder reads one frame at a time.
    layout = detect_layout(args.src)
    dataset = load_dataset(args.src) if layout == "consolidated" else read_any(args.src, progress=not args.quiet)
    path = export_lerobot(dataset, args.out, fps=args.fps, robot_type=args.robot_type, progress=not args.quiet)
    cameras = ", ".join(sorted(dataset.images)) or "no cameras"
    print(
        f"wrote {len(dataset)} frames, {len(dataset.episodes)} episodes ({cameras}) as LeRobot v3.0 to {path} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _run_import_lerobot(args: argparse.Namespace) -> int:
    from diwa.data.lerobot_import import import_lerobot

    cameras = {
        key: value for key, value in (("rgb_static", args.static_camera), ("rgb_gripper", args.wrist_camera)) if value
    }
    with _scratch_dir(args, (args.src,)) as scratch:
        dataset = import_lerobot(
            args.src,
            cameras=cameras or None,
            base_in_scene=tuple(args.base_in_scene),
            scratch=scratch,
            progress=not args.quiet,
        )
        path = save_dataset(dataset, args.out)
    sizes = ", ".join(f"{key} {images.shape[2]}x{images.shape[1]}" for key, images in sorted(dataset.images.items()))
    print(
        f"wrote {len(dataset)} frames, {len(dataset.episodes)} episodes, {len(dataset.annotations)} annotations "
        f"({sizes or 'no cameras'}) to {path}"
    )
    if scene_absent(dataset):
        print("note: no scene state: scene_obs holds zeros; train the camera profile (--profile camera), not state")
    if any(images.shape[1:3] != (64, 64) for images in dataset.images.values()):
        print("note: the camera profile trains on 64x64 frames and refuses others; frames were kept at their size")
    return 0
