"""A fine-tuning run: PPO iterations with checkpoints, resume, a NaN guard, logging and evaluation.

The same run drives DiWA in imagination and the DPPO baseline in the simulator; only the
environment and the name of its step counter differ. Output directory:

    policy.json, weights-*.safetensors the latest good fine-tuned policy (a normal policy checkpoint)
    finetune.json + finetune-*.{safetensors,state.pt}
                                       everything needed to resume: actor, critic, optimizers,
                                       reward scaler, random generators, counters, history
    evaluation.json                    paired simulator success before/after (when evaluated)
    tensorboard/                       scalars per iteration

Resuming restores every random stream, so an interrupted run continued with resume=True ends
with the same weights as one that never stopped. If a rollout, loss or weight turns non-finite,
the run restores the state from before that iteration, saves it, and stops.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from diwa import progress
from diwa.eval.harness import EpisodeResult, SkillReport
from diwa.policy.checkpoint import load_policy, save_policy
from diwa.policy.policy import DiffusionPolicy
from diwa.rl.config import FinetuneConfig
from diwa.rl.evaluation import write_evaluation
from diwa.rl.ppo import ChunkEnv, DenoisingPPO, NonFiniteError
from diwa.world_model.checkpoint import (
    CheckpointError,
    load_train_state,
    load_weights,
    read_checkpoint_meta,
    save_checkpoint,
)

STATE_NAME = "finetune"
STATE_FORMAT = "diwa-finetune-state"
RESUMABLE_CHANGES = ("iterations", "checkpoint_every", "eval_every")
"""Run settings that may differ on resume: none of them changes what training computes."""


class ResumableEnv(ChunkEnv, Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


Evaluator = Callable[[DiffusionPolicy], SkillReport]


@dataclass
class RunResult:
    iterations: int
    steps: int  # imagined primitive steps (DiWA) or simulator steps (online) used for learning
    eval_env_steps: int
    wall_s: float
    stopped: str | None  # why the run ended early, None if it completed
    history: list[dict[str, float]]
    base_success: float | None
    final_success: float | None


class FineTuneRun:
    def __init__(
        self,
        *,
        out: Path,
        config: FinetuneConfig,
        ppo: DenoisingPPO,
        env: ResumableEnv,
        step_counter: str,
        identity: dict[str, Any],
        provenance: dict[str, Any],
        base_policy: DiffusionPolicy,
        base_checkpoint: str,
        evaluator: Evaluator | None = None,
        resume: bool = False,
        show_progress: bool = True,
    ) -> None:
        """step_counter: "imagined_steps" or "env_steps"; identity: what must not change on resume
        (input checkpoints' hashes, seed, ...); provenance: recorded in the output policy."""
        self.out = out
        self.config = config
        self.ppo = ppo
        self.env = env
        self.step_counter = step_counter
        self.identity = identity
        self.base_policy = base_policy
        self.base_checkpoint = base_checkpoint
        self.evaluator = evaluator
        ppo.policy.provenance = {**ppo.policy.provenance, **provenance}
        self.show_progress = show_progress
        self.steps = 0
        self.eval_env_steps = 0
        self.wall_s = 0.0
        self.history: list[dict[str, float]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.base_report: SkillReport | None = None
        exists = (out / f"{STATE_NAME}.json").is_file()
        if exists and not resume:
            raise ValueError(
                f"{out} already holds a fine-tuning run; pass --resume to continue it or choose another --out"
            )
        if resume and not exists:
            raise FileNotFoundError(f"nothing to resume: no {STATE_NAME}.json in {out}")
        if resume:
            self._load()

    # --- checkpoints -----------------------------------------------------------------------------
    def _comparable(self, config: dict[str, Any]) -> dict[str, Any]:
        run = {k: v for k, v in config["run"].items() if k not in RESUMABLE_CHANGES}
        return {**config, "run": run}

    def _save(self) -> None:
        state = self.ppo.state_dict()
        tensors = {f"actor.{k}": v for k, v in state.pop("actor").items()}
        tensors |= {f"critic.{k}": v for k, v in state.pop("critic").items()}
        train_state = {
            "ppo": state,
            "env": self.env.state_dict(),
            "steps": self.steps,
            "eval_env_steps": self.eval_env_steps,
            "wall_s": self.wall_s,
            "history": self.history,
            "evaluations": self.evaluations,
            "base_report": self._report_state(self.base_report),
        }
        meta = {
            "config": self.config.to_dict(),
            "identity": self.identity,
            "iteration": self.ppo.iteration,
            self.step_counter: self.steps,
        }
        save_policy(self.ppo.policy, self.out, training=self._summary())
        save_checkpoint(self.out, STATE_NAME, STATE_FORMAT, tensors, meta, f"it{self.ppo.iteration:06d}", train_state)

    def _load(self) -> None:
        json_path, document = read_checkpoint_meta(self.out, STATE_NAME, STATE_FORMAT)
        # Through the dataclass, so that a key added since (with its default) compares equal.
        stored = FinetuneConfig.from_dict(document["config"], str(json_path)).to_dict()
        if self._comparable(stored) != self._comparable(self.config.to_dict()):
            raise CheckpointError(f"{json_path} was written with a different fine-tuning config; resume with the same")
        if document["identity"] != self.identity:
            changed = sorted(
                k
                for k in set(document["identity"]) | set(self.identity)
                if document["identity"].get(k) != self.identity.get(k)
            )
            raise CheckpointError(f"{json_path} belongs to a run with different inputs ({', '.join(changed)})")
        tensors = load_weights(json_path, document)
        state = load_train_state(json_path, document)
        ppo_state = dict(state["ppo"])
        ppo_state["actor"] = {k.removeprefix("actor."): v for k, v in tensors.items() if k.startswith("actor.")}
        ppo_state["critic"] = {k.removeprefix("critic."): v for k, v in tensors.items() if k.startswith("critic.")}
        try:
            self.ppo.load_state_dict(ppo_state)
            self.env.load_state_dict(state["env"])
        except RuntimeError as err:  # a random generator's state belongs to one kind of device
            raise CheckpointError(
                f"{json_path} was written on another kind of device; resume it on the same kind ({err})"
            ) from err
        self.steps = int(state["steps"])
        self.eval_env_steps = int(state["eval_env_steps"])
        self.wall_s = float(state["wall_s"])
        self.history = list(state["history"])
        self.evaluations = list(state["evaluations"])
        self.base_report = self._report_from_state(state["base_report"])

    @staticmethod
    def _report_state(report: SkillReport | None) -> dict[str, Any] | None:
        if report is None:
            return None
        return {
            "skill": report.skill,
            "seed": report.seed,
            "max_steps": report.max_steps,
            "results": [[r.index, r.success, r.steps] for r in report.results],
        }

    @staticmethod
    def _report_from_state(state: dict[str, Any] | None) -> SkillReport | None:
        if state is None:
            return None
        results = [EpisodeResult(int(i), bool(s), int(n)) for i, s, n in state["results"]]
        return SkillReport(
            skill=state["skill"], seed=int(state["seed"]), max_steps=int(state["max_steps"]), results=results
        )

    def _summary(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        return {
            "method": self.identity.get("method"),
            "iterations": self.ppo.iteration,
            self.step_counter: self.steps,
            "wall_s": round(self.wall_s, 2),
            "last_success_rate": last.get("success_rate"),
            "evaluations": self.evaluations,
        }

    # --- the loop --------------------------------------------------------------------------------
    def _evaluate(
        self, evaluator: Evaluator, writer: SummaryWriter, policy: DiffusionPolicy, label: str
    ) -> SkillReport:
        """Simulator success of `policy`; its steps are counted apart and never learnt from."""
        report = evaluator(policy)
        self.eval_env_steps += sum(result.steps for result in report.results)
        record = {
            "iteration": self.ppo.iteration,
            "label": label,
            "success_rate": report.success_rate,
            "episodes": report.episodes,
            self.step_counter: self.steps,
            "eval_env_steps": self.eval_env_steps,
        }
        self.evaluations.append(record)
        writer.add_scalar("eval/success_rate", report.success_rate, self.ppo.iteration)
        writer.add_scalar("eval/env_steps_total", record["eval_env_steps"], self.ppo.iteration)
        progress.report("finetune_eval", **record)
        return report

    def _log(self, writer: SummaryWriter, stats: dict[str, float]) -> None:
        iteration = self.ppo.iteration
        groups = {
            "rollout": ("success_rate", "halt_rate", "episodes", "episode_return", "episode_steps", "reward_per_chunk"),
            "ppo": (
                "policy_loss",
                "value_loss",
                "approx_kl",
                "base_kl",
                "clip_fraction",
                "ratio",
                "explained_variance",
                "advantage_std",
                "reward_scale",
                "epochs",
                "minibatches",
                "stopped_early",
                "actor_updated",
                "actor_grad_norm",
                "critic_grad_norm",
            ),
            "time": ("rollout_s", "update_s"),
        }
        for group, keys in groups.items():
            for key in keys:
                if key in stats:
                    writer.add_scalar(f"{group}/{key}", stats[key], iteration)
        writer.add_scalar(f"counters/{self.step_counter}", self.steps, iteration)
        writer.add_scalar("time/steps_per_s", stats["primitive_steps"] / max(stats["rollout_s"], 1e-9), iteration)
        progress.report(
            "finetune",
            iteration=iteration,
            imagined_success_rate=stats["success_rate"],
            mean_return=stats["episode_return"],
            approx_kl=stats.get("approx_kl", 0.0),
            **{self.step_counter: self.steps},
        )

    def run(self) -> RunResult:
        self.out.mkdir(parents=True, exist_ok=True)
        run = self.config.run
        writer = SummaryWriter(str(self.out / "tensorboard"), purge_step=self.ppo.iteration)
        stopped: str | None = None
        final_report: SkillReport | None = None
        evaluator = self.evaluator
        try:
            if evaluator is not None and self.base_report is None:
                self.base_report = self._evaluate(evaluator, writer, self.base_policy, "base")
            bar = tqdm(
                total=run.iterations,
                initial=self.ppo.iteration,
                desc=f"finetune {self.base_policy.skill}",
                unit="it",
                disable=not self.show_progress,
            )
            while self.ppo.iteration < run.iterations:
                snapshot = (self.ppo.state_dict(), copy.deepcopy(self.env.state_dict()))
                started = time.perf_counter()
                try:
                    stats = self.ppo.iterate(self.env, self.config.rollout.chunks_per_iteration)
                except NonFiniteError as err:
                    self.ppo.load_state_dict(snapshot[0])
                    self.env.load_state_dict(snapshot[1])
                    stopped = (
                        f"iteration {self.ppo.iteration + 1}: {err}; kept the policy of iteration {self.ppo.iteration}"
                    )
                    break
                self.wall_s += time.perf_counter() - started
                self.steps += int(stats["primitive_steps"])
                self.history.append({"iteration": float(self.ppo.iteration), **stats})
                self._log(writer, stats)
                bar.update(1)
                bar.set_postfix(success=f"{stats['success_rate']:.2f}", kl=f"{stats.get('approx_kl', 0.0):.2e}")
                last = self.ppo.iteration == run.iterations
                if evaluator is not None and run.eval_every and self.ppo.iteration % run.eval_every == 0 and not last:
                    self._evaluate(evaluator, writer, self.ppo.policy, "periodic")
                if self.ppo.iteration % run.checkpoint_every == 0 and not last:
                    self._save()
            bar.close()
            self._save()
            if evaluator is not None and self.base_report is not None:
                # The checkpoint as saved, which evaluation.json is bound to and the gate promotes: the
                # trained copy in memory can differ from it in the last bit, and in the simulator one
                # flipped episode changes the noise of every later one (docs/results/early_stopping).
                final_report = self._evaluate(evaluator, writer, load_policy(self.out), "final")
                self._save()
                write_evaluation(
                    self.out,
                    self.base_policy.skill,
                    final_report,
                    self.base_report,
                    self.base_checkpoint,
                    {
                        "base_policy_sha256": self.identity.get("base_policy_sha256"),
                        "iterations": self.ppo.iteration,
                        self.step_counter: self.steps,
                        "eval_env_steps": self.eval_env_steps,
                        "stopped": stopped,
                        "action_delay": self.config.rollout.action_delay,
                    },
                )
        finally:
            writer.close()
        return RunResult(
            iterations=self.ppo.iteration,
            steps=self.steps,
            eval_env_steps=self.eval_env_steps,
            wall_s=self.wall_s,
            stopped=stopped,
            history=self.history,
            base_success=self.base_report.success_rate if self.base_report is not None else None,
            final_success=final_report.success_rate if final_report is not None else None,
        )
