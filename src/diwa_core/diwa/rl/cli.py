"""`diwa finetune` (DiWA: PPO in imagination) and `diwa finetune-online` (DPPO in the simulator)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from diwa.distributed import check_device
from diwa.output_dirs import check_distinct
from diwa.policy.checkpoint import load_policy
from diwa.policy.encoder import FeatureEncoder
from diwa.policy.network import Critic
from diwa.policy.policy import DiffusionPolicy
from diwa.released import resolve, verdict_models
from diwa.rl.config import PROFILES, FinetuneConfig, load_finetune_config
from diwa.rl.finetune import FineTuneRun, RunResult
from diwa.rl.ppo import DenoisingPPO
from diwa.skills import SKILLS, check_skill

STOPPED_EXIT_CODE = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    offline = subparsers.add_parser(
        "finetune",
        help="fine-tune a skill's diffusion policy with PPO inside the world model (DiWA)",
        description="PPO over the last denoising steps of a behaviour-cloned policy, with episodes imagined by "
        "the world model and rewarded by the skill's classifier; no simulator step is used for learning. "
        "Writes a policy checkpoint (loadable by `diwa eval --policy`), resumable training state, TensorBoard "
        "scalars and, when evaluated, evaluation.json (paired simulator success before and after).",
    )
    offline.add_argument("--wm", required=True, type=Path, help="world-model checkpoint")
    offline.add_argument("--reward", required=True, type=Path, help="the skill's reward-classifier checkpoint")
    offline.add_argument(
        "--starts",
        type=Path,
        help="dataset whose recorded attempts start the imagined episodes (default: the "
        "demonstrations the policy was cloned from, as its checkpoint records)",
    )
    offline.add_argument("--guard", action="store_true", help="enable the model-error guard (ensemble disagreement)")
    offline.add_argument(
        "--guard-data", type=Path, help="play data to fit the guard on (default: the world model's training data)"
    )
    offline.add_argument(
        "--device",
        default="cpu",
        help="torch device of the imagination and the PPO update: cpu, cuda, cuda:N or mps (default cpu); "
        "simulator evaluation and the saved checkpoints stay on the CPU",
    )
    _common(offline)
    offline.set_defaults(run=run_finetune)

    verdict = subparsers.add_parser(
        "verdict",
        help="judge from world models alone whether a fine-tuned skill improved on its BC policy",
        description="Run the fine-tuned policy and its base policy on the same seeded imagined episodes and count "
        "only the successes the model error guard trusts (its ensemble agreed on every transition before the "
        "success); then run both again in an independent world model (--judge-wm, with its own reward "
        "classifiers), which must confirm the gain. The paired gains' 95 %% intervals give the verdict: improved, "
        "worse or uncertain (always uncertain without --judge-wm). Writes verdict.json into the run directory; the "
        "promotion gate uses it when no simulator evaluation exists.",
    )
    verdict.add_argument("--skill", required=True, help=f"one of: {', '.join(SKILLS)}")
    verdict.add_argument(
        "--run", dest="run_dir", required=True, type=Path, help="the `diwa finetune` output directory to judge"
    )
    verdict.add_argument("--wm", required=True, type=Path, help="the world model the run was fine-tuned in")
    verdict.add_argument("--reward", required=True, type=Path, help="the skill's reward-classifier checkpoint")
    verdict.add_argument(
        "--guard",
        type=Path,
        help="directory of a fitted guard (guard.json); fitted on the world model's play data and saved there "
        "when it holds none, so that all skills of one world model share it (default for a released world "
        "model: the release's guard)",
    )
    verdict.add_argument(
        "--judge-wm",
        type=Path,
        help="an independent world model (other play or another seed; not the one the run was fine-tuned in; "
        "default for a released world model: the release's judge where it ships one); a policy conditioned on "
        "the training model's latent reads there its own model's filter of the judge's imagined observations, "
        "so a camera policy needs a camera judge",
    )
    verdict.add_argument("--judge-reward", type=Path, help="the reward classifiers trained on --judge-wm")
    verdict.add_argument("--base", type=Path, help="the base policy (default: the one the run was fine-tuned from)")
    verdict.add_argument("--starts", type=Path, help="start-state dataset (default: the base policy's demonstrations)")
    verdict.add_argument("--episodes", type=int, default=500, help="imagined episodes per policy (default 500)")
    verdict.add_argument("--seed", type=int, default=0, help="seed of the imagined episodes and the guard fit")
    verdict.add_argument("--profile", default="quick", help="fine-tuning profile (guard, imagination, episode limit)")
    verdict.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    verdict.add_argument("--json", action="store_true", help="end with the verdict as JSON on the last line")
    verdict.set_defaults(run=run_verdict)

    online = subparsers.add_parser(
        "finetune-online",
        help="model-free DPPO baseline: the same PPO on simulator episodes, counting environment steps",
        description="Fine-tune with the same PPO as `diwa finetune`, but on episodes in simulator instances "
        "stepped in this process. Every simulator step used for learning is counted.",
    )
    online.add_argument("--wm", type=Path, help="world model (needed for a policy conditioned on its features)")
    online.add_argument("--envs", type=int, help="parallel simulator episodes (default: the profile's rollouts)")
    online.add_argument(
        "--sim-workers",
        type=int,
        default=1,
        help="processes that step the simulators (default 1: this one); the result does not depend on it",
    )
    _common(online)
    online.set_defaults(run=run_finetune_online)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skill", required=True, help=f"one of: {', '.join(SKILLS)}")
    parser.add_argument("--policy", required=True, type=Path, help="behaviour-cloned policy checkpoint")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--profile", default="quick", help=f"{' | '.join(PROFILES)} or a YAML file (default quick)")
    parser.add_argument("--iterations", type=int, help="PPO iterations (default: the profile's)")
    parser.add_argument(
        "--base-kl",
        type=float,
        metavar="COEF",
        help="weight of the KL to the behaviour-cloned policy in the actor's loss (default: the profile's)",
    )
    parser.add_argument(
        "--eval-every", type=int, help="simulator evaluation every N iterations (0: only before and after)"
    )
    parser.add_argument("--eval-episodes", type=int, help="episodes per evaluation (0: no simulator evaluation)")
    parser.add_argument("--eval-seed", type=int, default=0, help="seed of the evaluation episodes (default 0)")
    parser.add_argument(
        "--action-delay",
        type=int,
        metavar="PERIODS",
        help="control periods between an observation and the arm executing its action, in rollouts and "
        "evaluations, as in a real-time loop (default: the profile's)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of fine-tuning (default 0)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--json", action="store_true", help="end with a JSON summary on the last line")


def resolve_checkpoints(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """Release names (`released:state/bc/open_drawer`) become the paths they stand for."""
    for name in names:
        if getattr(args, name, None) is not None:
            setattr(args, name, resolve(getattr(args, name)))


def _config(args: argparse.Namespace) -> FinetuneConfig:
    resolve_checkpoints(args, ("policy", "wm", "reward", "starts", "guard_data"))
    check_distinct(args.out, [p for p in (args.policy, getattr(args, "wm", None), getattr(args, "reward", None)) if p])
    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    torch.set_num_threads(args.threads)
    config = load_finetune_config(args.profile)
    changes = {"iterations": args.iterations, "eval_every": args.eval_every, "eval_episodes": args.eval_episodes}
    changes = {k: v for k, v in changes.items() if v is not None}
    if changes:
        config = config.replace("run", **changes)
    if args.action_delay is not None:
        config = config.replace("rollout", action_delay=args.action_delay)
    return config if args.base_kl is None else config.replace("ppo", base_kl_coef=args.base_kl)


def policy_weights_sha(path: Path) -> str:
    meta = path / "policy.json" if path.is_dir() else path
    return str(json.loads(meta.read_text())["weights"]["sha256"])


def _ppo(policy: DiffusionPolicy, config: FinetuneConfig, seed: int, device: str) -> DenoisingPPO:
    """PPO on `device` for a trainable copy of `policy` (which stays where it is, for evaluation)."""
    tuned = policy.trainable_copy(config.ppo.ft_denoising_steps).to(device)
    torch.manual_seed(seed)  # the critic's initialisation, on the CPU whatever the device
    critic = Critic(policy.feature_dim, policy.config.network.critic_widths).to(device)
    return DenoisingPPO(tuned, critic, config.ppo, seed)


def _run_record(method: str, args: argparse.Namespace, config: FinetuneConfig) -> tuple[dict, dict]:
    """The identity (what a resumed run must match) and provenance (stored beside the weights)
    that every fine-tuning method shares; each command adds its own entries."""
    base_sha = policy_weights_sha(args.policy)
    identity = {
        "method": method,
        "skill": args.skill,
        "seed": args.seed,
        "eval_seed": args.eval_seed,
        "base_policy_sha256": base_sha,
    }
    provenance = {
        "base_checkpoint": str(args.policy.resolve()),
        "base_weights_sha256": base_sha,
        # The delay goes with the weights: the verdict and every later evaluation replay it.
        "finetune": {
            "method": method,
            "profile": config.profile,
            "seed": args.seed,
            "action_delay": config.rollout.action_delay,
        },
    }
    return identity, provenance


def _run(
    args: argparse.Namespace,
    config: FinetuneConfig,
    policy: DiffusionPolicy,
    env: Any,
    counter: str,
    record: tuple[dict, dict],
    evaluator: Any,
) -> int:
    """Run FineTuneRun to the end (or to a stop) and print the summary."""
    identity, provenance = record
    result = FineTuneRun(
        out=args.out,
        config=config,
        ppo=_ppo(policy, config, args.seed, getattr(args, "device", "cpu")),
        env=env,
        step_counter=counter,
        identity=identity,
        provenance=provenance,
        base_policy=policy,
        base_checkpoint=str(args.policy.resolve()),
        evaluator=evaluator,
        resume=args.resume,
        show_progress=not args.no_progress,
    ).run()
    return _finish(result, args.out, counter, args.json)


def _finish(result: RunResult, out: Path, counter: str, as_json: bool) -> int:
    print(
        f"{result.iterations} iterations, {result.steps:,} {counter.replace('_', ' ')} in {result.wall_s:.1f} s "
        f"({result.steps / max(result.wall_s, 1e-9):,.0f}/s); simulator steps for evaluation only: "
        f"{result.eval_env_steps:,}; policy saved to {out}"
    )
    if result.base_success is not None and result.final_success is not None:
        print(f"simulator success: {result.base_success:.1%} before, {result.final_success:.1%} after")
    if result.stopped:
        print(f"stopped early: {result.stopped}")
    if as_json:
        print(
            json.dumps(
                {
                    "out": str(out),
                    "iterations": result.iterations,
                    counter: result.steps,
                    "eval_env_steps": result.eval_env_steps,
                    "wall_s": result.wall_s,
                    "base_success": result.base_success,
                    "final_success": result.final_success,
                    "stopped": result.stopped,
                    "last": result.history[-1] if result.history else None,
                }
            )
        )
    return STOPPED_EXIT_CODE if result.stopped else 0


def run_finetune(args: argparse.Namespace) -> int:
    from diwa.rl.conditioning import check_policy, imagined_reader
    from diwa.rl.evaluation import SimulatorEvaluator
    from diwa.rl.imagination import ImaginationEnv
    from diwa.world_model.reward import load_reward_classifier
    from diwa.world_model.store import load_world_model

    skill = check_skill(args.skill)
    check_device(args.device)
    config = _config(args)
    model, info = load_world_model(args.wm, args.device)
    policy = load_policy(args.policy)
    check_policy(policy, skill, model, info)
    reward, reward_meta = load_reward_classifier(args.reward, skill, world_model_sha256=info.weights_sha256)
    reward.to(args.device)

    from diwa.rl.imagination import policy_start_states

    starts_path, starts_hash, starts = policy_start_states(policy, model, skill, args.starts, config.imagination)

    if args.guard:
        config = config.replace("guard", enabled=True)
    guard = _guard(args, config, model, info).to(args.device) if config.guard.enabled else None
    env = ImaginationEnv(
        model, reward, starts, imagined_reader(policy, model), config.rollout, config.imagination, args.seed, guard
    )
    print(
        f"imagination: {len(env.starts)} start frames from {starts_path}"
        + (f" ({env.starts_dropped} dropped: already done by the classifier)" if env.starts_dropped else "")
        + (f"; guard threshold {guard.threshold:.4f}" if guard is not None else "")
    )
    latent = policy.encoder_spec.get("kind") == FeatureEncoder.kind
    evaluator = (
        SimulatorEvaluator(
            skill, config.run.eval_episodes, args.eval_seed, model if latent else None, config.rollout.action_delay
        )
        if config.run.eval_episodes > 0
        else None
    )
    reward_sha = reward_meta["files"]["weights"]["sha256"]
    identity, provenance = _run_record("diwa-imagination", args, config)
    identity.update(
        world_model_sha256=info.weights_sha256,
        reward_sha256=reward_sha,
        starts_dataset_hash=starts_hash,
        guard_threshold=guard.threshold if guard is not None else None,
    )
    provenance["world_model"] = {"path": str(info.path), "weights_sha256": info.weights_sha256}
    provenance["reward"] = {"path": str(Path(args.reward).resolve()), "weights_sha256": reward_sha}
    provenance["finetune"].update(
        starts=str(Path(starts_path).resolve()),
        guard=config.guard.enabled,
        # What the policy and its latent filter read on a real episode (diwa report groups by it).
        observation="camera" if model.uses_images else "state",
    )
    code = _run(args, config, policy, env, "imagined_steps", (identity, provenance), evaluator)
    if guard is not None:
        print(f"guard: {env.halts} imagined episodes halted for model disagreement")
    return code


def _guard(args: argparse.Namespace, config: FinetuneConfig, model: Any, info: Any) -> Any:
    """The run's guard: loaded from --out when it was fitted before (resume), else fitted now on
    real play data and saved there."""
    from diwa.rl.guard import load_or_fit_guard

    return report_guard(
        load_or_fit_guard(args.out, args.guard_data, config.guard, model, info, args.seed, not args.no_progress),
        args.out,
    )


def report_guard(loaded: tuple[Any, dict[str, Any] | None], directory: Path) -> Any:
    """The guard of `load_or_fit_guard`, after a line on the fit when it was fitted now."""
    guard, metrics = loaded
    if metrics is not None:
        print(
            f"guard fitted on {metrics['train_transitions']:,} transitions, threshold {metrics['threshold']:.4f} "
            f"(saved in {directory})"
        )
    return guard


def run_verdict(args: argparse.Namespace) -> int:
    from diwa.rl.conditioning import FilteredReader, check_policy, imagined_reader, judge_reader
    from diwa.rl.guard import ModelErrorGuard, load_or_fit_guard
    from diwa.rl.imagination import PolicyReader, StartStates, policy_start_states
    from diwa.rl.verdict import INDEPENDENT_MARGIN, ImaginedOutcomes, imagine_episodes, judge, write_verdict
    from diwa.world_model.model import WorldModel
    from diwa.world_model.reward import RewardClassifier, load_reward_classifier
    from diwa.world_model.store import load_world_model

    if (args.judge_wm is None) != (args.judge_reward is None):
        raise ValueError("--judge-wm and --judge-reward go together: the independent model needs its own classifiers")
    released_guard, released_judge = verdict_models(args.wm)
    args.guard = args.guard or released_guard
    if args.guard is None:
        raise ValueError(f"name the guard's directory with --guard: {args.wm} is not a released world model")
    if args.judge_wm is None and released_judge is not None:
        args.judge_wm, args.judge_reward = released_judge
    resolve_checkpoints(args, ("run_dir", "wm", "reward", "guard", "base", "starts", "judge_wm", "judge_reward"))
    skill = check_skill(args.skill)
    if args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    torch.set_num_threads(args.threads)
    config = load_finetune_config(args.profile)
    model, info = load_world_model(args.wm)
    tuned = load_policy(args.run_dir)
    if tuned.finetuned is None:
        raise ValueError(f"{args.run_dir} holds no fine-tuned policy")
    recorded = tuned.provenance.get("world_model", {}).get("weights_sha256")
    if recorded is not None and recorded != info.weights_sha256:
        raise ValueError(f"{args.run_dir} was fine-tuned in world model {recorded[:12]}, not in {info.path}")
    base_path = args.base or (
        resolve(tuned.provenance["base_checkpoint"]) if "base_checkpoint" in tuned.provenance else None
    )
    if base_path is None:
        raise ValueError(f"{args.run_dir} does not record its base policy; name it with --base")
    base = load_policy(base_path)
    for policy in (tuned, base):
        check_policy(policy, skill, model, info)
    reward, reward_meta = load_reward_classifier(args.reward, skill, world_model_sha256=info.weights_sha256)
    _, starts_hash, starts = policy_start_states(base, model, skill, args.starts, config.imagination)
    # Judged in the loop it was fine-tuned for: runs from before the delay existed had none.
    action_delay = int(tuned.provenance.get("finetune", {}).get("action_delay", 0))
    args.guard.mkdir(parents=True, exist_ok=True)
    guard = report_guard(load_or_fit_guard(args.guard, None, config.guard, model, info, args.seed, False), args.guard)

    def imagine(
        world: WorldModel,
        classifier: RewardClassifier,
        begin: StartStates,
        policy: DiffusionPolicy,
        reader: PolicyReader | FilteredReader,
        trust: ModelErrorGuard | None,
    ) -> ImaginedOutcomes:
        steps, temperature = config.rollout.max_episode_steps, config.imagination.temperature
        return imagine_episodes(
            world, classifier, begin, policy, reader, trust, args.episodes, args.seed, steps, temperature, action_delay
        )

    outcomes = [imagine(model, reward, starts, p, imagined_reader(p, model), guard) for p in (base, tuned)]
    independent, judge_provenance = None, {}
    if args.judge_wm is not None:
        other, other_info = load_world_model(args.judge_wm)
        if other_info.weights_sha256 == info.weights_sha256:
            raise ValueError(f"--judge-wm {args.judge_wm} is the model the run was fine-tuned in, not another one")
        readers = [judge_reader(policy, skill, other, other_info, model, starts) for policy in (base, tuned)]
        other_reward, other_meta = load_reward_classifier(
            args.judge_reward, skill, world_model_sha256=other_info.weights_sha256
        )
        _, _, other_starts = policy_start_states(base, other, skill, args.starts, config.imagination)
        independent = tuple(
            imagine(other, other_reward, other_starts, policy, reader, None)
            for policy, reader in zip((base, tuned), readers, strict=True)
        )
        judge_provenance = {
            "judge_world_model_sha256": other_info.weights_sha256,
            "judge_reward_sha256": other_meta["files"]["weights"]["sha256"],
            # What the policy read in the judge: the judge's decoded state, or its own model's filter.
            "judge_policy_view": "own_filter" if isinstance(readers[0], FilteredReader) else "judge_decoded_state",
        }
    document = judge(*outcomes, independent=independent)
    document.update(**judge_provenance)
    document.update(
        skill=skill,
        seed=args.seed,
        world_model_sha256=info.weights_sha256,
        reward_sha256=reward_meta["files"]["weights"]["sha256"],
        policy_sha256=policy_weights_sha(args.run_dir),
        base_policy_sha256=policy_weights_sha(base_path),
        starts_dataset_hash=starts_hash,
        guard_threshold=guard.threshold,
        action_delay=action_delay,
    )
    path = write_verdict(args.run_dir, document)
    low, high = document["trusted_gain_ci95"]
    if independent is None:
        second = "no independent world model (--judge-wm): uncertain by rule"
    else:
        other_low, other_high = document["independent"]["gain_ci95"]
        second = f"independent model's gain {other_low:+.1%} .. {other_high:+.1%} (needs > {INDEPENDENT_MARGIN:+.0%})"
    print(
        f"{skill}: {document['verdict']} (trusted imagined success {document['base']['trusted_success']:.1%} -> "
        f"{document['finetuned']['trusted_success']:.1%}, gain 95 % interval {low:+.1%} .. {high:+.1%}; {second}); "
        f"wrote {path}"
    )
    if args.json:
        print(json.dumps(document))
    return 0


def run_finetune_online(args: argparse.Namespace) -> int:
    from diwa.rl.evaluation import SimulatorEvaluator
    from diwa.rl.online import SimulatorChunkEnv
    from diwa.world_model.store import load_world_model

    skill = check_skill(args.skill)
    config = _config(args)
    if args.envs is not None:
        if args.envs < 1:
            raise ValueError(f"--envs must be positive, got {args.envs}")
        config = config.replace("rollout", num_envs=args.envs)
    if args.sim_workers < 1:
        raise ValueError(f"--sim-workers must be positive, got {args.sim_workers}")
    policy = load_policy(args.policy)
    if policy.skill != skill:
        raise ValueError(f"the policy was trained for {policy.skill!r}, not {skill!r}")
    model, info = load_world_model(args.wm) if args.wm is not None else (None, None)
    if info is not None:
        from diwa.rl.conditioning import check_policy

        check_policy(policy, skill, model, info)
    env = SimulatorChunkEnv(skill, policy, model, config.rollout, args.seed, args.sim_workers)
    evaluator = (
        SimulatorEvaluator(skill, config.run.eval_episodes, args.eval_seed, model, config.rollout.action_delay)
        if config.run.eval_episodes > 0
        else None
    )
    identity, provenance = _run_record("dppo-online", args, config)
    identity["world_model_sha256"] = info.weights_sha256 if info is not None else None
    provenance["finetune"]["envs"] = config.rollout.num_envs
    if info is not None:
        provenance["world_model"] = {"path": str(info.path), "weights_sha256": info.weights_sha256}
    try:
        return _run(args, config, policy, env, "env_steps", (identity, provenance), evaluator)
    finally:
        env.close()
