"""Fine-tuning runs: resume reproduces, the NaN guard keeps the last good policy, evaluation and
the saved checkpoint use the fine-tuned network, mismatched checkpoints are refused."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import rl_tiny
import torch
import yaml
from diwa.cli import main
from diwa.eval.harness import EpisodeResult, SkillReport
from diwa.policy.agent import DiffusionAgent
from diwa.policy.checkpoint import load_policy, save_policy
from diwa.policy.closed_loop import ClosedLoopAgent
from diwa.rl.conditioning import check_policy
from diwa.rl.config import load_finetune_config
from diwa.rl.finetune import FineTuneRun
from diwa.world_model.store import WorldModelInfo


def make_run(out: Path, config, resume: bool = False, evaluator=None, env_wrapper=None) -> FineTuneRun:
    model = rl_tiny.world_model()
    base = rl_tiny.policy(model.feat_dim)
    ppo = rl_tiny.ppo(base, config)
    env = rl_tiny.imagination(model, ppo.policy, config, reward=rl_tiny.random_reward(model.feat_dim))
    return FineTuneRun(
        out=out,
        config=config,
        ppo=ppo,
        env=env_wrapper(env) if env_wrapper else env,
        step_counter="imagined_steps",
        identity={"method": "diwa-imagination", "seed": 0},
        provenance={"finetune": {"method": "diwa-imagination"}},
        base_policy=base,
        base_checkpoint="base",
        evaluator=evaluator,
        resume=resume,
        show_progress=False,
    )


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    straight = make_run(tmp_path / "straight", rl_tiny.config(iterations=4))
    straight.run()
    interrupted = make_run(tmp_path / "resumed", rl_tiny.config(iterations=2))
    interrupted.run()
    resumed = make_run(tmp_path / "resumed", rl_tiny.config(iterations=4), resume=True)
    assert resumed.ppo.iteration == 2
    result = resumed.run()
    assert result.iterations == 4
    for name in ("actor", "critic"):
        expected, got = weights(getattr(straight.ppo, name)), weights(getattr(resumed.ppo, name))
        assert all(torch.equal(expected[k], got[k]) for k in expected), name
    assert [h["success_rate"] for h in straight.history] == [h["success_rate"] for h in resumed.history]
    assert any(h["success_rate"] > 0 for h in straight.history), "the tiny task should see some successes"
    assert straight.steps == resumed.steps == 4 * 4 * 5 * 4  # iterations x envs x chunks x actions
    assert not torch.equal(
        straight.ppo.actor.state_dict()["body.head.bias"], straight.ppo.policy.base.state_dict()["body.head.bias"]
    )


def test_a_run_refuses_to_overwrite_or_to_resume_with_other_inputs(tmp_path):
    make_run(tmp_path, rl_tiny.config(iterations=1)).run()
    with pytest.raises(ValueError, match="--resume"):
        make_run(tmp_path, rl_tiny.config(iterations=2))
    other = rl_tiny.config(iterations=2).replace("ppo", actor_lr=1e-3)
    with pytest.raises(ValueError, match="different fine-tuning config"):
        make_run(tmp_path, other, resume=True)


class PoisonAt:
    """Wraps an env so that the rollout of iteration `iteration` (1-based) returns NaN rewards."""

    def __init__(self, env, iteration: int) -> None:
        self.env, self.iteration, self.resets = env, iteration, 0
        self.num_envs = env.num_envs

    def reset(self):
        self.resets += 1
        return self.env.reset()

    def step(self, chunks):
        step = self.env.step(chunks)
        if self.resets == self.iteration:
            return dataclasses.replace(step, reward=torch.full_like(step.reward, float("nan")))
        return step

    def state_dict(self):
        return {**self.env.state_dict(), "resets": self.resets}

    def load_state_dict(self, state):
        self.env.load_state_dict(state)
        self.resets = state["resets"]


def test_nan_guard_stops_and_keeps_the_last_good_policy(tmp_path):
    reference = make_run(tmp_path / "two", rl_tiny.config(iterations=2))
    reference.run()
    poisoned = make_run(tmp_path / "poisoned", rl_tiny.config(iterations=5), env_wrapper=lambda env: PoisonAt(env, 3))
    result = poisoned.run()
    assert result.stopped is not None and "iteration 3" in result.stopped
    assert result.iterations == 2
    saved = load_policy(tmp_path / "poisoned")
    expected = reference.ppo.actor.state_dict()
    for key, value in saved.finetuned.state_dict().items():
        assert torch.isfinite(value).all()
        assert torch.equal(value, expected[key]), key


def report(success: bool, episodes: int = 4) -> SkillReport:
    return SkillReport(
        skill=rl_tiny.SKILL, seed=0, max_steps=72, results=[EpisodeResult(i, success, 5) for i in range(episodes)]
    )


def test_evaluation_and_the_saved_checkpoint_use_the_fine_tuned_network(tmp_path):
    seen, policies = [], []

    def evaluator(policy):
        seen.append((policy.finetuned_steps, None if policy.finetuned is None else weights(policy.finetuned)))
        policies.append(policy)
        return report(success=len(seen) > 1)

    run = make_run(tmp_path, rl_tiny.config(iterations=3, eval_every=2, eval_episodes=4), evaluator=evaluator)
    result = run.run()
    # Base before training, periodic at iteration 2, final after iteration 3.
    assert [s[0] for s in seen] == [0, 3, 3]
    final_actor = weights(run.ppo.actor)
    assert all(torch.equal(seen[-1][1][k], final_actor[k]) for k in final_actor)
    # The final evaluation reads the checkpoint as saved (what evaluation.json is bound to), not the
    # trained copy in memory, which can differ from it in the last bit.
    assert policies[-1] is not run.ppo.policy
    assert result.base_success == 0.0 and result.final_success == 1.0
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert {k: evaluation[k] for k in ("skill", "success_rate", "base_success_rate", "episodes", "seed")} == {
        "skill": rl_tiny.SKILL,
        "success_rate": 1.0,
        "base_success_rate": 0.0,
        "episodes": 4,
        "seed": 0,
    }
    assert evaluation["base_checkpoint"] == "base" and evaluation["eval_env_steps"] == 3 * 4 * 5
    # Per-episode outcomes, paired, and the gain's interval (every pair gained: zero width at 1).
    assert evaluation["outcomes"] == [1, 1, 1, 1] and evaluation["base_outcomes"] == [0, 0, 0, 0]
    assert evaluation["gain"] == 1.0 and evaluation["gain_ci95"] == [1.0, 1.0]

    # The checkpoint, loaded the way `diwa eval` loads it, acts with the fine-tuned steps.
    loaded = DiffusionAgent.from_checkpoint(tmp_path, skill=rl_tiny.SKILL, seed=3).policy
    assert loaded.finetuned_steps == 3
    features = np.random.default_rng(0).normal(size=(2, loaded.feature_dim)).astype(np.float32)
    tuned_chunk = loaded.predict_chunk(features, torch.Generator().manual_seed(5))
    trained = run.ppo.policy.predict_chunk(features, torch.Generator().manual_seed(5))
    base_only = run.base_policy.predict_chunk(features, torch.Generator().manual_seed(5))
    np.testing.assert_allclose(tuned_chunk, trained, atol=1e-6)
    assert not np.allclose(tuned_chunk, base_only, atol=1e-4), "evaluation would silently measure the base policy"


def test_closed_loop_agent_filters_the_latent_and_uses_the_fine_tuned_policy():
    model = rl_tiny.world_model()
    base = rl_tiny.policy(model.feat_dim)
    tuned = base.with_finetuned_copy(3)
    with torch.no_grad():
        tuned.finetuned.body.head.bias.add_(0.5)
    obs = {"robot_obs": np.full(15, 0.1, np.float32), "scene_obs": np.full(24, 0.2, np.float32)}
    actions = {}
    for name, policy in (("base", base), ("tuned", tuned)):
        agent = ClosedLoopAgent(policy, model, seed=0)
        agent.reset(rl_tiny.SKILL, obs)
        actions[name] = np.stack([agent.act(obs) for _ in range(6)])
    assert not np.allclose(actions["base"], actions["tuned"])
    with pytest.raises(ValueError, match="needs its world model"):
        ClosedLoopAgent(base, None, seed=0)


def test_a_delayed_closed_loop_agent_filters_the_latent_on_the_actions_it_executed():
    """With two periods of delay the agent returns two holds, then the actions its policy chose two
    steps before, and its latent filter steps on what it returned: what the arm executed."""
    model = rl_tiny.world_model()
    obs = {"robot_obs": np.full(15, 0.1, np.float32), "scene_obs": np.full(24, 0.2, np.float32)}
    obs["robot_obs"][14] = -1.0
    at_once = ClosedLoopAgent(rl_tiny.policy(model.feat_dim), model, seed=0)
    late = ClosedLoopAgent(rl_tiny.policy(model.feat_dim), model, seed=0, action_delay=2)
    filtered: list[np.ndarray] = []
    step = late.features.step
    late.features.step = lambda action, o: filtered.append(np.asarray(action)) or step(action, o)  # type: ignore[method-assign]
    for agent in (at_once, late):
        agent.reset(rl_tiny.SKILL, obs)
    chosen = np.stack([at_once.act(obs) for _ in range(3)])
    executed = np.stack([late.act(obs) for _ in range(5)])
    assert (executed[:2, :6] == 0).all() and (executed[:2, 6] == -1).all(), "held, gripper as it started"
    np.testing.assert_allclose(executed[2], chosen[0], atol=1e-6)
    np.testing.assert_array_equal(np.stack(filtered), executed[:4])
    with pytest.raises(ValueError, match="control periods >= 0"):
        ClosedLoopAgent(rl_tiny.policy(model.feat_dim), model, seed=0, action_delay=-1)


def info(sha: str) -> WorldModelInfo:
    return WorldModelInfo(Path("wm"), None, 0, 0, {}, sha)


def test_mismatched_policies_are_refused():
    model = rl_tiny.world_model()
    with pytest.raises(ValueError, match="not 'open_drawer'"):
        check_policy(rl_tiny.policy(model.feat_dim, skill="close_drawer"), rl_tiny.SKILL, model, info("a"))
    with pytest.raises(ValueError, match="another world model's features"):
        check_policy(rl_tiny.policy(model.feat_dim + 1), rl_tiny.SKILL, model, info("a"))
    trained_elsewhere = rl_tiny.policy(model.feat_dim)
    trained_elsewhere.provenance = {"world_model": {"weights_sha256": "b" * 64}}
    with pytest.raises(ValueError, match="features of world model"):
        check_policy(trained_elsewhere, rl_tiny.SKILL, model, info("a" * 64))
    trained_here = rl_tiny.policy(model.feat_dim)
    trained_here.provenance = {"world_model": {"weights_sha256": "a" * 64}}
    check_policy(trained_here, rl_tiny.SKILL, model, info("a" * 64))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    paths = rl_tiny.save_pipeline(root)
    profile = root / "tiny.yaml"
    profile.write_text(yaml.safe_dump(rl_tiny.config(iterations=2).to_dict()))
    paths["profile"] = profile
    return paths


def cli(paths, out, *extra) -> list[str]:
    return [
        "finetune",
        "--skill",
        rl_tiny.SKILL,
        "--wm",
        str(paths["wm"]),
        "--policy",
        str(paths["policy"]),
        "--reward",
        str(paths["reward"]),
        "--out",
        str(out),
        "--profile",
        str(paths["profile"]),
        "--eval-episodes",
        "0",
        "--no-progress",
        *extra,
    ]


def test_finetune_command_writes_a_loadable_fine_tuned_policy(pipeline, tmp_path, capsys):
    assert main(cli(pipeline, tmp_path / "out", "--json")) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["iterations"] == 2 and summary["imagined_steps"] == 2 * 4 * 5 * 4
    policy = load_policy(tmp_path / "out")
    assert policy.finetuned_steps == 3 and policy.provenance["world_model"]["weights_sha256"]
    assert (tmp_path / "out" / "finetune.json").is_file() and (tmp_path / "out" / "tensorboard").is_dir()
    # The closed-loop agent finds the world model through the checkpoint's provenance.
    agent = ClosedLoopAgent.from_checkpoint(tmp_path / "out", rl_tiny.SKILL)
    obs = {"robot_obs": np.zeros(15, np.float32), "scene_obs": np.zeros(24, np.float32)}
    agent.reset(rl_tiny.SKILL, obs)
    assert agent.act(obs).shape == (7,)
    with pytest.raises(ValueError, match="does not name its world model"):
        ClosedLoopAgent.from_checkpoint(pipeline["policy"], rl_tiny.SKILL)


def test_finetune_command_refuses_a_reward_model_of_another_world_model(pipeline, tmp_path, capsys):
    document = json.loads((pipeline["reward"] / f"reward_{rl_tiny.SKILL}.json").read_text())
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for file in pipeline["reward"].iterdir():
        (foreign / file.name).write_bytes(file.read_bytes())
    document["world_model"]["weights_sha256"] = "f" * 64
    (foreign / f"reward_{rl_tiny.SKILL}.json").write_text(json.dumps(document))
    args = cli(pipeline, tmp_path / "out", "--json")
    args[args.index("--reward") + 1] = str(foreign)
    assert main(args) == 2
    assert "different world model" in capsys.readouterr().err


def test_finetune_command_refuses_a_reward_model_of_another_skill(pipeline, tmp_path, capsys):
    args = cli(pipeline, tmp_path / "out")
    args[args.index("--skill") + 1] = "close_drawer"
    assert main(args) == 2
    assert "not 'close_drawer'" in capsys.readouterr().err


def test_finetune_command_sets_the_base_kl_coefficient_and_refuses_a_negative_one(pipeline, tmp_path, capsys):
    assert main(cli(pipeline, tmp_path / "out", "--base-kl", "0.5", "--iterations", "1")) == 0
    state = json.loads((tmp_path / "out" / "finetune.json").read_text())
    assert state["config"]["ppo"]["base_kl_coef"] == 0.5
    capsys.readouterr()
    assert main(cli(pipeline, tmp_path / "bad", "--base-kl", "-1")) == 2
    assert "base_kl_coef must be finite and non-negative" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "finetune.json").exists()


def test_finetune_command_sets_the_action_delay_and_records_it_with_the_weights(pipeline, tmp_path, capsys):
    assert main(cli(pipeline, tmp_path / "out", "--action-delay", "2", "--iterations", "1")) == 0
    state = json.loads((tmp_path / "out" / "finetune.json").read_text())
    assert state["config"]["rollout"]["action_delay"] == 2
    assert load_policy(tmp_path / "out").provenance["finetune"]["action_delay"] == 2
    capsys.readouterr()
    assert main(cli(pipeline, tmp_path / "bad", "--action-delay", "-1")) == 2
    assert "control periods >= 0" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "finetune.json").exists()


def test_a_run_from_before_the_action_delay_resumes_as_a_run_without_one(pipeline, tmp_path):
    """Runs written before `rollout.action_delay` existed stored no such key: they had no delay."""
    assert main(cli(pipeline, tmp_path / "out", "--iterations", "1")) == 0
    meta = tmp_path / "out" / "finetune.json"
    document = json.loads(meta.read_text())
    del document["config"]["rollout"]["action_delay"]
    meta.write_text(json.dumps(document))
    assert main(cli(pipeline, tmp_path / "out", "--iterations", "2", "--resume")) == 0
    assert main(cli(pipeline, tmp_path / "other", "--iterations", "1", "--action-delay", "1")) == 0
    assert main(cli(pipeline, tmp_path / "other", "--iterations", "2", "--resume")) == 2, "a changed delay"


def test_profiles_load_and_the_paper_profile_keeps_diwas_values():
    paper = load_finetune_config("paper")
    assert load_finetune_config("quick").profile == "quick"
    assert (paper.ppo.ft_denoising_steps, paper.ppo.gamma, paper.ppo.gae_lambda, paper.ppo.gamma_denoising) == (
        10,
        0.999,
        0.95,
        0.99,
    )
    assert (paper.ppo.clip_first, paper.ppo.clip_last, paper.ppo.clip_rate) == (0.001, 0.01, 3.0)
    assert (paper.ppo.actor_lr, paper.ppo.critic_lr, paper.ppo.update_epochs, paper.ppo.target_kl) == (
        1e-5,
        1e-3,
        10,
        1.0,
    )
    assert (paper.rollout.num_envs, paper.rollout.chunks_per_iteration, paper.rollout.max_episode_steps) == (50, 36, 72)
    with pytest.raises(ValueError, match="unknown keys"):
        type(paper).from_dict({**paper.to_dict(), "extra": 1})


def test_a_policy_saved_then_fine_tuned_again_keeps_its_split(tmp_path):
    model = rl_tiny.world_model()
    tuned = rl_tiny.policy(model.feat_dim).with_finetuned_copy(3)
    save_policy(tuned, tmp_path)

    again = load_policy(tmp_path).trainable_copy(3)
    assert all(p.requires_grad for p in again.finetuned.parameters())
    assert not any(p.requires_grad for p in again.base.parameters())
    with pytest.raises(ValueError, match="already fine-tuned"):
        load_policy(tmp_path).trainable_copy(2)


def test_progress_records_carry_what_the_finetune_action_server_reads(tmp_path, monkeypatch):
    monkeypatch.setenv("DIWA_PROGRESS_FILE", str(tmp_path / "progress.jsonl"))
    make_run(tmp_path / "out", rl_tiny.config(iterations=3)).run()
    records = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    iterations = [r for r in records if r["kind"] == "finetune"]
    assert [r["iteration"] for r in iterations] == [1, 2, 3]
    assert all({"imagined_success_rate", "mean_return", "approx_kl", "imagined_steps"} <= set(r) for r in iterations)
    assert iterations[-1]["imagined_steps"] == 3 * 4 * 5 * 4


def test_finetune_online_steps_its_simulators_in_worker_processes(pipeline, tmp_path, capsys):
    argv = ["finetune-online", "--skill", rl_tiny.SKILL, "--policy", str(pipeline["policy"]), "--wm"]
    argv += [str(pipeline["wm"]), "--profile", str(pipeline["profile"]), "--eval-episodes", "0", "--no-progress"]
    argv += ["--iterations", "1", "--envs", "2", "--json"]
    assert main([*argv, "--out", str(tmp_path / "bad"), "--sim-workers", "0"]) == 2
    assert "--sim-workers must be positive" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "two"), "--sim-workers", "2"]) == 0
    spread = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    alone = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert spread["env_steps"] == alone["env_steps"] > 0
    sha = [json.loads((tmp_path / run / "policy.json").read_text())["weights"]["sha256"] for run in ("one", "two")]
    assert sha[0] == sha[1]


def written_as_on_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on torch.save tags every storage "cuda:0", as it does for a run trained on a GPU."""
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")


def test_a_run_written_on_a_gpu_loads_on_a_cpu(tmp_path, monkeypatch):
    """What a robot PC without a GPU reads of a GPU run: the policy (safetensors hold no device) and
    the training state (read onto the CPU)."""
    from diwa.world_model.checkpoint import load_train_state, read_checkpoint_meta

    written_as_on_a_gpu(monkeypatch)
    make_run(tmp_path, rl_tiny.config(iterations=2)).run()
    monkeypatch.undo()
    json_path, document = read_checkpoint_meta(tmp_path, "finetune", "diwa-finetune-state")
    state_file = json_path.parent / document["files"]["train_state"]["file"]
    if not torch.cuda.is_available():  # the file really is a GPU's: a plain load needs CUDA
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(state_file, weights_only=True)
    state = load_train_state(json_path, document)
    moments = state["ppo"]["actor_optimizer"]["state"]
    assert moments and all(t.device.type == "cpu" for m in moments.values() for t in m.values())
    policy = load_policy(tmp_path)
    assert policy.device.type == "cpu" and policy.finetuned_steps == 3
    assert policy.predict_chunk(np.zeros(policy.feature_dim, np.float32)).shape == (1, 4, 7)


def test_a_run_from_another_kind_of_device_is_refused_on_resume_in_one_message(tmp_path, monkeypatch):
    from diwa.rl.ppo import DenoisingPPO
    from diwa.world_model.checkpoint import CheckpointError

    own_state_dict = DenoisingPPO.state_dict

    def as_on_a_gpu(self):  # a CUDA generator's state is 16 bytes (Philox seed and offset)
        return {**own_state_dict(self), "generator": torch.zeros(16, dtype=torch.uint8)}

    monkeypatch.setattr(DenoisingPPO, "state_dict", as_on_a_gpu)
    make_run(tmp_path, rl_tiny.config(iterations=1)).run()
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match="another kind of device; resume it on the same kind"):
        make_run(tmp_path, rl_tiny.config(iterations=2), resume=True)


def test_finetune_refuses_a_device_this_machine_lacks_in_one_line(pipeline, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(cli(pipeline, tmp_path / "out", "--device", "cuda")) == 2
    assert "has no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(cli(pipeline, tmp_path / "out", "--device", "tpu9")) == 2
    assert "not a torch device" in capsys.readouterr().err


def test_fine_tuning_on_the_cpu_named_explicitly_equals_the_default(pipeline, tmp_path):
    assert main(cli(pipeline, tmp_path / "default")) == 0
    assert main(cli(pipeline, tmp_path / "named", "--device", "cpu")) == 0
    default, named = load_policy(tmp_path / "default"), load_policy(tmp_path / "named")
    for key, value in default.finetuned.state_dict().items():
        assert torch.equal(value, named.finetuned.state_dict()[key]), key


def test_latency_check_replays_the_runs_evaluation_with_delay_and_the_gate_reads_it(tmp_path, capsys):
    """At delay 0 it reproduces evaluation.json's outcomes episode for episode (the same episodes and
    agent); each delay's result is written to latency.json bound to both policies' weights."""
    paths = rl_tiny.save_pipeline(tmp_path / "state", latent=False)
    profile = tmp_path / "tiny.yaml"
    profile.write_text(yaml.safe_dump(rl_tiny.config(iterations=1).to_dict()))
    run = tmp_path / "run"
    args = cli({**paths, "profile": profile}, run, "--eval-episodes", "3", "--eval-seed", "5")
    assert main(args) == 0
    evaluation = json.loads((run / "evaluation.json").read_text())
    assert main(["latency-check", str(run), "--delays", "0,2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary["delays"]) == {"0", "2"} and summary["promoted"] is False, "3 episodes are too few"
    latency = json.loads((run / "latency.json").read_text())
    assert latency["delays"]["0"]["outcomes"] == evaluation["outcomes"]
    assert latency["delays"]["0"]["base_outcomes"] == evaluation["base_outcomes"]
    assert (latency["policy_sha256"], latency["base_policy_sha256"]) == (
        evaluation["policy_sha256"],
        evaluation["base_policy_sha256"],
    )
    assert main(["latency-check", str(run), "--base", str(run)]) == 2
    assert "not the base policy" in capsys.readouterr().err
    assert main(["latency-check", str(run), "--delays", "1,x"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
    assert main(["latency-check", str(paths["policy"])]) == 2
    assert "has no evaluation.json" in capsys.readouterr().err
    (run / "evaluation.json").write_text(json.dumps({k: v for k, v in evaluation.items() if k != "seed"}))
    assert main(["latency-check", str(run)]) == 2
    assert "evaluation.json is malformed (missing or bad 'seed')" in capsys.readouterr().err
