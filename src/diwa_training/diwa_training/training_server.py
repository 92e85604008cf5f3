"""TrainWorldModel and FineTune action servers.

Training runs in a child process (`diwa train-wm` / `diwa finetune`), never in the node: a crash or
a slow step cannot take the ROS graph down, and cancelling is a signal to the child. The child
writes into a staging directory next to the requested output, which is renamed into place only
when training succeeds, so a cancelled or failed goal never leaves a half-written checkpoint. Feedback
comes from the child's progress file (diwa.progress). A fine-tuned checkpoint gets the world model's
pre-deployment verdict (`diwa verdict`) in its staging directory before it is moved into place, so
the checkpoint and the verdict the promotion gate reads arrive together.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from action_msgs.msg import GoalStatus
from diwa.progress import ENV_VAR, ProgressFollower
from diwa.released import resolve, verdict_models
from diwa.skills import SKILLS
from diwa.world_model.store import read_world_model_info
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from diwa_msgs.action import FineTune, TrainWorldModel
from diwa_robot.node_main import run_node
from diwa_robot.parameters import declare

POLL_PERIOD_S = 0.2
CANCELLED = "cancelled"  # what a goal step returns when its goal was cancelled meanwhile
CANCEL_GRACE_S = 20.0
PROFILES = ("quick", "paper")


class ChildRun:
    """One training command in a child process, its staging directory and its progress records."""

    def __init__(self, command: list[str], output: Path, log_dir: Path) -> None:
        self.output = output
        output.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial.", dir=output.parent))
        self.progress_path = self.staging.parent / f"{self.staging.name}.progress.jsonl"
        self.log_path = log_dir / f"{output.name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("w")
        env = {**os.environ, ENV_VAR: str(self.progress_path), "PYTHONUNBUFFERED": "1"}
        full = [sys.executable, "-m", "diwa.cli", *command, "--out", str(self.staging)]
        self.process = subprocess.Popen(full, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.follower = ProgressFollower(self.progress_path)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=CANCEL_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines: int = 5) -> str:
        self.log.flush()
        return " | ".join(self.log_path.read_text().strip().splitlines()[-lines:])

    def finish(self, success: bool) -> None:
        """Move the staging directory into place on success; remove it otherwise."""
        self.log.close()
        self.progress_path.unlink(missing_ok=True)
        if success:
            if self.output.exists():
                backup = self.output.with_name(f".{self.output.name}.replaced")
                shutil.rmtree(backup, ignore_errors=True)
                self.output.rename(backup)
                self.staging.rename(self.output)
                shutil.rmtree(backup)
            else:
                self.staging.rename(self.output)
        else:
            shutil.rmtree(self.staging, ignore_errors=True)


class TrainingServer(Node):
    def __init__(self) -> None:
        super().__init__("training_server")
        # Read when a goal starts: set them between goals (ros2 param set); the workdir is fixed.
        each_goal = partial(declare, self, read_only=False)
        workdir = declare(self, "workdir", "artifacts", "directory for checkpoints and logs")
        each_goal("default_wm_steps", 0, "world-model steps of a goal that gives 0; 0: the profile's")
        each_goal("default_iterations", 0, "PPO iterations of a goal that gives 0; 0: the profile's")
        each_goal("finetune_profile", "quick", "fine-tuning profile")
        each_goal("finetune_eval_episodes", 100, "paired simulator episodes before and after fine-tuning")
        each_goal("finetune_seed", 0, "fine-tuning seed")
        each_goal("finetune_eval_seed", 0, "seed of the paired evaluation")
        each_goal("verdict_episodes", 500, "imagined episodes of the pre-deployment verdict; 0: no verdict")
        # Without an independent world model (a released world model brings its release's) the verdict
        # stays "uncertain" and the promotion gate needs a simulator evaluation.
        each_goal("verdict_judge_world_model", "", "an independent world model for the verdict (--judge-wm)")
        each_goal("verdict_judge_reward_model", "", "its reward classifiers")
        each_goal("latency_check_periods", 2, "replay the evaluation with 1..N periods of command delay; 0: none")
        self.workdir = Path(str(workdir)).resolve()
        self.busy = False
        self._verdict_note = ""
        self._latency_note = ""
        group = ReentrantCallbackGroup()
        accept_one = lambda _goal: GoalResponse.REJECT if self.busy else GoalResponse.ACCEPT  # noqa: E731
        cancel = lambda _goal: CancelResponse.ACCEPT  # noqa: E731
        self.wm_server = ActionServer(
            self, TrainWorldModel, "train_world_model", self._reporting(self.train_world_model, TrainWorldModel),
            goal_callback=accept_one, cancel_callback=cancel, callback_group=group,
        )  # fmt: skip
        self.ft_server = ActionServer(
            self, FineTune, "fine_tune", self._reporting(self.fine_tune, FineTune),
            goal_callback=accept_one, cancel_callback=cancel, callback_group=group,
        )  # fmt: skip
        self.get_logger().info(f"training server ready (workdir {self.workdir})")

    def _reporting(self, execute: Callable[[Any], Any], action: Any) -> Callable[[Any], Any]:
        """`execute` with every exception turned into an aborted goal whose message says what failed:
        rclpy would otherwise abort it with an empty result."""

        def run(goal_handle: Any) -> Any:
            try:
                return execute(goal_handle)
            except Exception as err:  # the client must learn of any failure
                self.busy = False
                message = f"failed: {type(err).__name__}: {err}"
                self.get_logger().error(message)
                result = action.Result()
                result.message = message
                if goal_handle.is_active:
                    goal_handle.abort()
                return result

        return run

    def _output(self, requested: str, default_name: str) -> Path:
        path = Path(requested) if requested else self.workdir / default_name
        return path if path.is_absolute() else (self.workdir / path)

    def _supervise(self, goal_handle, run: ChildRun, on_record: Callable[[dict[str, Any]], None]) -> str | None:
        """Follow the child until it ends; returns None on success or the reason it did not succeed."""
        while run.process.poll() is None:
            if goal_handle.is_cancel_requested:
                run.stop()
                return CANCELLED
            for record in run.follower.new_records():
                on_record(record)
            time.sleep(POLL_PERIOD_S)
        for record in run.follower.new_records():
            on_record(record)
        if run.process.returncode != 0:
            return f"training failed (exit {run.process.returncode}): {run.tail()}"
        return None

    def _run_goal(
        self,
        goal_handle,
        command: list[str],
        output: Path,
        on_record,
        result,
        before_publish: Callable[[Path], str | None] | None = None,
    ) -> Any:
        """Run the child; on success `before_publish(staging)` may add to the staging directory
        (returning "cancelled" when the goal was cancelled meanwhile) before it is moved into place."""
        self.busy = True
        run = ChildRun(command, output, self.workdir / "logs")
        try:
            problem = self._supervise(goal_handle, run, on_record)
            if problem is None and before_publish is not None:
                problem = before_publish(run.staging)
            run.finish(success=problem is None)
        finally:
            self.busy = False
        result.message = problem or f"wrote {output}"
        if problem == CANCELLED:
            goal_handle.canceled()
        elif problem:
            goal_handle.abort()
        else:
            goal_handle.succeed()
        return result

    # --- TrainWorldModel -----------------------------------------------------------------------
    def train_world_model(self, goal_handle) -> TrainWorldModel.Result:
        goal = goal_handle.request
        result = TrainWorldModel.Result()
        problem = (
            self._check_paths(goal.datasets, "dataset")
            or (
                "give exactly one dataset (merge recordings with `diwa data from-bag A B ...`)"
                if len(goal.datasets) > 1
                else None
            )
            or (
                None
                if goal.profile in ("", *PROFILES)
                else f"unknown profile {goal.profile!r}; expected one of {PROFILES}"
            )
        )
        if problem:
            result.message = problem
            goal_handle.abort()
            return result
        output = self._output(goal.output, "world_model")
        steps = int(goal.steps) or int(self.get_parameter("default_wm_steps").value)
        command = ["train-wm", "--profile", goal.profile or "quick", "--data", goal.datasets[0], "--no-progress"]
        if steps:
            command += ["--steps", str(steps)]

        def on_record(record: dict[str, Any]) -> None:
            if record.get("kind") == "train_wm" and "step" in record:
                losses = {k: v for k, v in record.items() if k not in ("kind", "step") and isinstance(v, int | float)}
                feedback = TrainWorldModel.Feedback(step=int(record["step"]))
                feedback.loss_names, feedback.loss_values = list(losses), [float(v) for v in losses.values()]
                goal_handle.publish_feedback(feedback)
            elif record.get("kind") == "train_wm_metrics":
                metrics = {k: v for k, v in record.items() if k != "kind" and isinstance(v, int | float)}
                result.metric_names, result.metric_values = list(metrics), [float(v) for v in metrics.values()]

        result = self._run_goal(goal_handle, command, output, on_record, result)
        if goal_handle.status == GoalStatus.STATUS_SUCCEEDED:
            result.checkpoint = str(output)
        return result

    # --- FineTune ------------------------------------------------------------------------------
    def fine_tune(self, goal_handle) -> FineTune.Result:
        goal = goal_handle.request
        result = FineTune.Result()
        problem = None
        if goal.skill not in SKILLS:
            problem = f"unknown skill {goal.skill!r}; known skills: {', '.join(SKILLS)}"
        problem = problem or self._check_paths([goal.world_model, goal.base_policy, goal.reward_model], "checkpoint")
        if problem:
            result.message = problem
            goal_handle.abort()
            return result
        output = self._output(goal.output_path, f"finetuned_{goal.skill}")
        iterations = int(goal.iterations) or int(self.get_parameter("default_iterations").value)
        command = ["finetune", "--skill", goal.skill, "--wm", goal.world_model, "--policy", goal.base_policy]
        command += ["--reward", goal.reward_model, "--profile", str(self.get_parameter("finetune_profile").value)]
        # The simulator evaluation before and after is what the promotion gate reads (evaluation.json).
        command += ["--eval-episodes", str(int(self.get_parameter("finetune_eval_episodes").value)), "--no-progress"]
        command += ["--seed", str(int(self.get_parameter("finetune_seed").value))]
        command += ["--eval-seed", str(int(self.get_parameter("finetune_eval_seed").value))]
        if iterations:
            command += ["--iterations", str(iterations)]
        rates: list[float] = []

        def on_record(record: dict[str, Any]) -> None:
            if record.get("kind") != "finetune" or "iteration" not in record:
                return
            rate = float(record.get("imagined_success_rate") or 0.0)
            rates.append(rate)
            feedback = FineTune.Feedback(
                iteration=int(record["iteration"]),
                imagined_success_rate=rate,
                mean_return=float(record.get("mean_return") or 0.0),
                approx_kl=float(record.get("approx_kl") or 0.0),
                imagined_steps=int(record.get("imagined_steps") or 0),
            )
            goal_handle.publish_feedback(feedback)

        def judge(staging: Path) -> str | None:  # the verdict, then the latency check: both beside the weights
            cancelled = self._verdict(goal_handle, goal, staging, result)
            return cancelled or self._latency(goal_handle, goal, staging, result)

        result = self._run_goal(goal_handle, command, output, on_record, result, judge)
        if rates:
            result.imagined_success_before, result.imagined_success_after = rates[0], rates[-1]
        if goal_handle.status == GoalStatus.STATUS_SUCCEEDED:
            result.checkpoint = str(output)
            if result.verdict:
                low, high = result.trusted_gain_ci95
                result.message += f"; verdict {result.verdict} (trusted imagined gain {low:+.1%} .. {high:+.1%})"
            elif self._verdict_note:
                result.message += f"; {self._verdict_note}"
            if self._latency_note:
                result.message += f"; {self._latency_note}"
        return result

    def _latency(self, goal_handle, goal, run_dir: Path, result) -> str | None:
        """`diwa latency-check` on the fine-tuned checkpoint in `run_dir` (latency.json, which the
        promotion gate reads), summarised in the result's message. Returns "cancelled" or None."""
        self._latency_note = ""
        periods = int(self.get_parameter("latency_check_periods").value)
        if periods <= 0 or not (run_dir / "evaluation.json").is_file():
            return None
        delays = ",".join(str(d) for d in range(1, periods + 1))
        command = [sys.executable, "-m", "diwa.cli", "latency-check", str(run_dir), "--delays", delays]
        command += ["--base", goal.base_policy, "--json"]
        log_path = self.workdir / "logs" / f"{run_dir.name}.latency.log"
        document = self._child_json(goal_handle, command, log_path, f"the latency check of {goal.skill}")
        if document == CANCELLED:
            return CANCELLED
        if document is None:
            self._latency_note = f"no latency check (see {log_path})"
            return None
        checked = document["delays"]
        self._latency_note = "with command delay " + ", ".join(
            f"{d}: {r['base_success_rate']:.0%} -> {r['success_rate']:.0%}" for d, r in checked.items()
        )
        return None

    def _child_json(self, goal_handle, command: list[str], log_path: Path, what: str) -> dict | str | None:
        """Run `command` to its end (stderr to `log_path`) and return the JSON of its last line;
        CANCELLED when the goal was cancelled meanwhile (the child is killed); None, with a warning
        naming `what`, when it failed."""
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
            while process.poll() is None:
                if goal_handle.is_cancel_requested:
                    process.kill()
                    process.wait()
                    return CANCELLED
                time.sleep(POLL_PERIOD_S)
            printed = process.stdout.read() if process.stdout else ""
        lines = printed.strip().splitlines()
        if process.returncode != 0 or not lines:
            self.get_logger().warn(f"{what} failed: see {log_path}")
            return None
        return json.loads(lines[-1])

    def _verdict(self, goal_handle, goal, run_dir: Path, result) -> str | None:
        """`diwa verdict` on the fine-tuned checkpoint in `run_dir`, into `result`. A verdict that cannot
        be made leaves `result.verdict` empty and says why in the message: the checkpoint stays
        usable, the promotion gate then needs a simulator evaluation. Returns "cancelled" or None."""
        self._verdict_note = ""
        episodes = int(self.get_parameter("verdict_episodes").value)
        if episodes <= 0:
            return None
        command = [sys.executable, "-m", "diwa.cli", "verdict", "--skill", goal.skill, "--run", str(run_dir)]
        command += ["--wm", goal.world_model, "--reward", goal.reward_model]
        released_guard, _ = verdict_models(goal.world_model)  # a release ships its guard (and judge): used
        if released_guard is None:  # one guard per world model, fitted on its play by the first verdict
            info, _ = read_world_model_info(goal.world_model)
            command += ["--guard", str(self.workdir / "verdict_guards" / info.weights_sha256[:16])]
        command += ["--episodes", str(episodes), "--profile", str(self.get_parameter("finetune_profile").value)]
        judge_wm = str(self.get_parameter("verdict_judge_world_model").value)
        if judge_wm:
            judge_reward = str(self.get_parameter("verdict_judge_reward_model").value)
            command += ["--judge-wm", judge_wm, "--judge-reward", judge_reward]
        log_path = self.workdir / "logs" / f"{run_dir.name}.verdict.log"
        document = self._child_json(goal_handle, [*command, "--json"], log_path, f"the verdict on {goal.skill}")
        if document == CANCELLED:
            return CANCELLED
        if document is None:
            self._verdict_note = f"no verdict (see {log_path})"
            return None
        result.verdict = str(document["verdict"])
        result.trusted_gain = float(document["trusted_gain"])
        result.trusted_gain_ci95 = [float(v) for v in document["trusted_gain_ci95"]]
        return None

    @staticmethod
    def _check_paths(paths: list[str], what: str) -> str | None:
        """None if every path (or release name, diwa.released) exists, else why not."""
        if not paths:
            return f"no {what} given"
        missing = []
        for path in paths:
            try:
                if not resolve(path).exists():
                    missing.append(path)
            except ValueError as err:
                return str(err)
        return f"{what} not found: {', '.join(missing)}" if missing else None


def main() -> None:
    run_node(TrainingServer, threads=4)


if __name__ == "__main__":
    main()
