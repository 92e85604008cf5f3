"""`make demo`: DiWA through ROS on the simulator's mock robot, from the released models.

Default (the gain, about 10 minutes on 2 cores): fine-tune each skill from the released world
model, BC policy and reward classifier through the FineTune action, with the release's seeds. The
action also evaluates the BC and the fine-tuned policy on paired simulator episodes, judges the
result from the world model (the verdict) and replays the evaluation with one and two control
periods of command delay, as the real-time loop runs the policies (the latency check). Then both policies
run through ExecuteSkill on the mock robot, and the promotion gate judges the fine-tuned checkpoint.
The demo ends with a table beside the release's own figures, and a PNG. The default skill is the
one whose gain the real-time loop keeps best (docs/results/delay_finetune/).

`--loop` (`make demo-loop`: the loop, not the gain, 15-30 minutes): every stage at small size. It
records play through the collect graph into a bag and converts it, then trains the world model
through the TrainWorldModel action. Demonstrations, behaviour cloning and the reward classifier
follow. Fine-tuning runs through the FineTune action, and both policies are evaluated through
ExecuteSkill.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import rclpy
from ament_index_python.packages import get_package_share_directory
from diwa.atomic import write_atomically, write_file_atomically
from diwa.eval.stats import paired_gain_interval
from diwa.promotion import judge_checkpoint
from diwa.released import PREFIX, list_releases
from diwa.sim.start_states import sample_start_state, skill_seed
from diwa.skills import EPISODE_STEP_LIMIT, SKILLS, check_skill
from diwa.typed_config import build_dataclass, yaml_file
from rclpy.action import ActionClient
from rclpy.node import Node

from diwa_msgs.action import ExecuteSkill, FineTune, TrainWorldModel
from diwa_msgs.srv import ResetSim

SERVER_TIMEOUT_S = 120.0
ROUTE = "state"
DEFAULT_SKILL = "move_slider_left"


@dataclass(frozen=True)
class DemoConfig:
    play_frames: int
    world_model_steps: int
    demos: int
    bc_epochs: int
    finetune_iterations: int
    eval_episodes: int
    seed: int

    @classmethod
    def load(cls, path: Path) -> DemoConfig:
        return build_dataclass(cls, yaml_file(path), str(path))


def step(title: str) -> float:
    print(f"\n==> [demo] {title}", flush=True)
    return time.monotonic()


def diwa(*args: str) -> None:
    """Run a `diwa` command; its failure ends the demo with the command's own message."""
    subprocess.run([sys.executable, "-m", "diwa.cli", *args], check=True)


class DemoClient(Node):
    def __init__(self) -> None:
        super().__init__("diwa_demo")
        self.train_wm = ActionClient(self, TrainWorldModel, "/train_world_model")
        self.fine_tune = ActionClient(self, FineTune, "/fine_tune")
        self.execute = ActionClient(self, ExecuteSkill, "/execute_skill")
        self.reset = self.create_client(ResetSim, "/mock_robot/reset")

    def wait_for_servers(self) -> None:
        for client in (self.train_wm, self.fine_tune, self.execute):
            if not client.wait_for_server(timeout_sec=SERVER_TIMEOUT_S):
                raise RuntimeError(f"action server {client._action_name} did not come up")
        if not self.reset.wait_for_service(timeout_sec=SERVER_TIMEOUT_S):
            raise RuntimeError("the mock robot's reset service did not come up")

    def _wait(self, future, timeout: float | None = None):
        rclpy.spin_until_future_complete(self, future, timeout_sec=timeout)
        if not future.done():
            raise TimeoutError("no answer from the server")
        return future.result()

    def run_goal(self, client: ActionClient, goal, on_feedback=None):
        handle = self._wait(client.send_goal_async(goal, feedback_callback=on_feedback), 30)
        if not handle.accepted:
            raise RuntimeError(f"{client._action_name} rejected the goal")
        return self._wait(handle.get_result_async())

    def reset_to_evaluation_start(self, skill: str, seed: int, episode: int) -> None:
        """The start state of episode `episode` of the offline paired evaluation under `seed`
        (diwa.eval.harness), set exactly, so that a real-time episode pairs with its offline one."""
        robot_obs, scene_obs = sample_start_state(skill, skill_seed(seed, skill, episode))
        request = ResetSim.Request(use_state=True, robot_obs=robot_obs.tolist(), scene_obs=scene_obs.tolist())
        response = self._wait(self.reset.call_async(request), 30)
        if not response.success:
            raise RuntimeError(f"reset failed: {response.message}")
        time.sleep(0.3)  # fresh observations of the new state reach the policy node

    def outcomes(self, skill: str, policy: str | Path, episodes: int, seed: int) -> list[int]:
        """1 or 0 per ExecuteSkill episode, from the offline evaluation's first start states."""
        results = []
        for episode in range(episodes):
            self.reset_to_evaluation_start(skill, seed, episode)
            outcome = self.run_goal(
                self.execute, ExecuteSkill.Goal(skill=skill, policy=str(policy), max_steps=EPISODE_STEP_LIMIT)
            )
            results.append(int(bool(outcome.result.success)))
        return results


def execute_skill_results(client: DemoClient, skill: str, bc: str, tuned: str, episodes: int, offline: dict) -> dict:
    """Both policies through ExecuteSkill from the start states of the offline evaluation's first
    `episodes` episodes (`offline`: the fine-tuning's evaluation.json), with the paired gain's interval
    and the offline outcomes of the same episodes: a real-time loop acts a period or two later than
    the offline evaluation, which changes some outcomes (docs/results/execute_vs_offline)."""
    if episodes > offline["episodes"]:
        raise ValueError(f"eval_episodes {episodes} exceeds the offline evaluation's {offline['episodes']} episodes")
    before = client.outcomes(skill, bc, episodes, offline["seed"])
    after = client.outcomes(skill, tuned, episodes, offline["seed"])
    _, low, high = paired_gain_interval(before, after)
    return {
        "bc_success": sum(before) / len(before), "finetuned_success": sum(after) / len(after),
        "eval_episodes": episodes, "execute_gain_ci95": [low, high],
        "offline_same_episodes_bc_success": sum(offline["base_outcomes"][:episodes]) / episodes,
        "offline_same_episodes_finetuned_success": sum(offline["outcomes"][:episodes]) / episodes,
    }  # fmt: skip


def run_released_demo(skills: list[str], config: DemoConfig, workdir: Path) -> list[dict]:
    release = next((r for r in list_releases() if r["route"] == ROUTE), None)
    if release is None:
        raise RuntimeError(f"no released {ROUTE} models in this installation: run `make reproduce` or `make demo-loop`")
    seeds = release.get("seeds") or {}
    finetune_seed, eval_seed = seeds.get("finetune", "0"), seeds.get("eval", "0")
    workdir.mkdir(parents=True, exist_ok=True)
    launch = ["launch", "finetune", f"workdir:={workdir}", f"seed:={finetune_seed}", f"eval_seed:={eval_seed}"]
    graph = subprocess.Popen([sys.executable, "-m", "diwa.cli", *launch])
    rclpy.init()
    client = DemoClient()
    rows = []
    try:
        client.wait_for_servers()
        for skill in skills:
            rows.append(run_released_skill(client, skill, config, workdir, release["skills"][skill]))
    finally:
        client.destroy_node()
        rclpy.try_shutdown()
        graph.send_signal(2)
        graph.wait(timeout=60)
    return rows


def run_released_skill(client: DemoClient, skill: str, config: DemoConfig, workdir: Path, published: dict) -> dict:
    tuned = workdir / skill / "finetuned"
    started = step(f"{skill}: fine-tune the released BC policy in the released world model (FineTune action)")
    if not (tuned / "evaluation.json").is_file():
        goal = FineTune.Goal(
            skill=skill, world_model=f"{PREFIX}{ROUTE}/world_model", base_policy=f"{PREFIX}{ROUTE}/bc/{skill}",
            reward_model=f"{PREFIX}{ROUTE}/reward", output_path=str(tuned),
        )  # fmt: skip
        outcome = client.run_goal(client.fine_tune, goal, progress_printer())
        if not outcome.result.checkpoint:
            raise RuntimeError(f"fine-tuning failed: {outcome.result.message}")
        print(f"    {outcome.result.message}", flush=True)
    finetune_s = time.monotonic() - started
    offline = json.loads((tuned / "evaluation.json").read_text())
    latency_file = tuned / "latency.json"
    latency = json.loads(latency_file.read_text())["delays"] if latency_file.is_file() else {}
    started = step(f"{skill}: {config.eval_episodes} paired episodes per policy through ExecuteSkill on the mock robot")
    executed = execute_skill_results(
        client, skill, f"{PREFIX}{ROUTE}/bc/{skill}", str(tuned), config.eval_episodes, offline
    )
    decision = judge_checkpoint(tuned)
    verdict = (
        json.loads((tuned / "verdict.json").read_text())["verdict"] if (tuned / "verdict.json").is_file() else None
    )
    return {
        "skill": skill,
        "offline_bc_success": offline["base_success_rate"], "offline_finetuned_success": offline["success_rate"],
        "offline_gain_ci95": offline.get("gain_ci95"), "offline_episodes": offline["episodes"],
        "release_bc_success": published["bc_success"], "release_finetuned_success": published["finetuned_success"],
        "delayed": {
            delay: {"bc_success": r["base_success_rate"], "finetuned_success": r["success_rate"],
                    "gain_ci95": r["gain_ci95"]}
            for delay, r in latency.items()
        },
        **executed, "verdict": verdict, "promoted": decision.allowed, "promotion_reason": decision.reason,
        "finetune_s": finetune_s, "eval_s": time.monotonic() - started,
    }  # fmt: skip


def progress_printer():
    """FineTune feedback as one short line every few iterations (the details go to TensorBoard)."""
    last = [0.0]

    def show(feedback) -> None:
        f = feedback.feedback
        if time.monotonic() - last[0] >= 10:
            last[0] = time.monotonic()
            print(f"    iteration {f.iteration}: imagined success {f.imagined_success_rate:.0%}", flush=True)

    return show


def run_loop_demo(skills: list[str], config: DemoConfig, workdir: Path) -> list[dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = step(f"record {config.play_frames} frames of scripted play through ROS (collect graph)")
    bag, play = workdir / "play_bag", workdir / "play"
    if not bag.exists():
        frames, seed = str(config.play_frames), str(config.seed)
        diwa("collect", "--frames", frames, "--bag", str(bag), "--seed", seed, "--no-cameras")  # the state route
    if not play.exists():
        diwa("data", "from-bag", str(bag), "--out", str(play))
    timings["record_play_s"] = time.monotonic() - started

    graph = subprocess.Popen([sys.executable, "-m", "diwa.cli", "launch", "finetune", f"workdir:={workdir}"])
    rclpy.init()
    client = DemoClient()
    rows = []
    try:
        client.wait_for_servers()
        started = step(f"train the world model ({config.world_model_steps} steps) through the TrainWorldModel action")
        wm = workdir / "world_model"
        if not wm.exists():
            goal = TrainWorldModel.Goal(
                datasets=[str(play)], output=str(wm), steps=config.world_model_steps, profile="quick"
            )
            last = [0.0]

            def show(feedback) -> None:
                if time.monotonic() - last[0] > 10:
                    last[0] = time.monotonic()
                    print(f"    step {feedback.feedback.step} of {config.world_model_steps}", flush=True)

            outcome = client.run_goal(client.train_wm, goal, show)
            if not outcome.result.checkpoint:
                raise RuntimeError(f"world-model training failed: {outcome.result.message}")
        timings["world_model_s"] = time.monotonic() - started
        for skill in skills:
            rows.append(run_skill(client, skill, config, workdir, play, wm))
    finally:
        client.destroy_node()
        rclpy.try_shutdown()
        graph.send_signal(2)
        graph.wait(timeout=60)
    for row in rows:
        row.update(timings)
    return rows


def run_skill(client: DemoClient, skill: str, config: DemoConfig, workdir: Path, play: Path, wm: Path) -> dict:
    skill_dir = workdir / skill
    started = step(f"{skill}: {config.demos} demonstrations and behaviour cloning")
    demos, bc, reward, tuned = skill_dir / "demos", skill_dir / "bc", skill_dir / "reward", skill_dir / "finetuned"
    if not demos.exists():
        diwa("data", "collect-demos", "--skill", skill, "--episodes", str(config.demos), "--seed", str(config.seed),
             "--out", str(demos), "--quiet")  # fmt: skip
    if not bc.exists():
        diwa("train-policy", "--skill", skill, "--demos", str(demos), "--out", str(bc),
             "--epochs", str(config.bc_epochs), "--seed", str(config.seed), "--no-progress")  # fmt: skip
    bc_s = time.monotonic() - started
    started = step(f"{skill}: reward classifier on world-model features")
    if not reward.exists():
        diwa("train-reward", "--skill", skill, "--wm", str(wm), "--data", str(play), "--out", str(reward),
             "--seed", str(config.seed))  # fmt: skip
    reward_s = time.monotonic() - started
    started = step(f"{skill}: fine-tune in imagination through the FineTune action ({config.finetune_iterations} it.)")
    if not tuned.exists():
        goal = FineTune.Goal(
            skill=skill, world_model=str(wm), base_policy=str(bc), reward_model=str(reward),
            iterations=config.finetune_iterations, output_path=str(tuned),
        )  # fmt: skip

        outcome = client.run_goal(client.fine_tune, goal, progress_printer())
        if not outcome.result.checkpoint:
            raise RuntimeError(f"fine-tuning failed: {outcome.result.message}")
    finetune_s = time.monotonic() - started
    # The fine-tuning's own paired evaluation (offline simulator, fixed seeds): ROS execution runs in
    # real time, so its outcomes also vary with timing, and the two measurements are shown side by side.
    offline = json.loads((tuned / "evaluation.json").read_text())
    started = step(f"{skill}: {config.eval_episodes} paired episodes per policy through ExecuteSkill on the mock robot")
    executed = execute_skill_results(client, skill, str(bc), str(tuned), config.eval_episodes, offline)
    return {
        "skill": skill, **executed,
        "offline_bc_success": offline["base_success_rate"], "offline_finetuned_success": offline["success_rate"],
        "offline_episodes": offline["episodes"],
        "bc_s": bc_s, "reward_s": reward_s, "finetune_s": finetune_s, "eval_s": time.monotonic() - started,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skill", default=DEFAULT_SKILL, help="a skill, or 'all' for the eight")
    parser.add_argument("--workdir", type=Path, default=Path("artifacts/demo"))
    parser.add_argument("--config", type=Path, default=None, help="default: share/diwa_bringup/config/demo.yaml")
    parser.add_argument("--loop", action="store_true", help="run every stage at small size (the loop, not the gain)")
    args = parser.parse_args(argv)
    skills = list(SKILLS) if args.skill == "all" else [check_skill(args.skill)]
    config_path = args.config or Path(get_package_share_directory("diwa_bringup")) / "config" / "demo.yaml"
    config = DemoConfig.load(config_path)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    started = time.monotonic()
    workdir = args.workdir.resolve() / ("loop" if args.loop else "released")
    rows = (run_loop_demo if args.loop else run_released_demo)(skills, config, workdir)
    total = time.monotonic() - started
    print_table(rows, args.loop)
    write_atomically(workdir / "demo_results.json", json.dumps({"rows": rows, "wall_s": total}, indent=1))
    write_file_atomically(workdir / "demo_results.png", lambda tmp: plot(rows, tmp))
    print(f"\nwall time {total / 60:.1f} min; details in {workdir / 'demo_results.json'} and demo_results.png")
    return 0


def print_table(rows: list[dict], loop: bool) -> None:
    header = ("skill", "offline: BC", "DiWA", "episodes", "ExecuteSkill: BC", "DiWA", "episodes")
    print("\n{:<20} {:>12} {:>6} {:>9}   {:>17} {:>6} {:>9}".format(*header))
    for r in rows:
        print(
            f"{r['skill']:<20} {r['offline_bc_success']:>12.0%} {r['offline_finetuned_success']:>6.0%} "
            f"{r['offline_episodes']:>9}   {r['bc_success']:>17.0%} {r['finetuned_success']:>6.0%} "
            f"{r['eval_episodes']:>9}"
        )
        ex_low, ex_high = r["execute_gain_ci95"]
        episodes = r["eval_episodes"]
        print(
            f"{'':<20} ExecuteSkill gain 95 % interval {ex_low:+.0%} .. {ex_high:+.0%} ({episodes} episodes; "
            f"offline on the same start states {r['offline_same_episodes_bc_success']:.0%} -> "
            f"{r['offline_same_episodes_finetuned_success']:.0%})"
        )
        for delay, d in r.get("delayed", {}).items():
            d_low, d_high = d["gain_ci95"]
            print(
                f"{'':<20} offline with {delay} periods of command delay {d['bc_success']:.0%} -> "
                f"{d['finetuned_success']:.0%} (gain 95 % interval {d_low:+.0%} .. {d_high:+.0%})"
            )
        if not loop:
            low, high = r["offline_gain_ci95"] or (float("nan"), float("nan"))
            print(
                f"{'':<20} offline gain 95 % interval {low:+.0%} .. {high:+.0%}; the release measured "
                f"{r['release_bc_success']:.0%} -> {r['release_finetuned_success']:.0%}; "
                f"verdict {r['verdict'] or '-'}; "
                f"promotion gate: {'passed' if r['promoted'] else 'refused'}"
            )


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(max(4.0, 1.6 * len(rows)), 3.2))
    x = range(len(rows))
    for offset, key, label in ((-0.3, "offline_bc_success", "BC (paired evaluation)"),
                               (-0.1, "offline_finetuned_success", "DiWA (paired evaluation)"),
                               (0.1, "bc_success", "BC (ExecuteSkill)"),
                               (0.3, "finetuned_success", "DiWA (ExecuteSkill)")):  # fmt: skip
        axis.bar([i + offset for i in x], [100 * r[key] for r in rows], width=0.2, label=label)
    axis.set_xticks(list(x), [r["skill"] for r in rows], rotation=20)
    axis.set_ylabel("success (%)")
    axis.set_ylim(0, 100)
    axis.legend(fontsize=7)
    figure.tight_layout()
    write_file_atomically(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
