"""Turn a policy spec from the command line into an Agent."""

from __future__ import annotations

from diwa.agent import Agent
from diwa.command_delay import check_periods
from diwa.eval.latency import DelayedAgent
from diwa.released import resolve
from diwa.sim.expert import DEFAULT_NOISE, ScriptedExpert
from diwa.skills import check_skill

SCRIPTED = "scripted"


def load_agent(spec: str, skill: str, seed: int, action_delay: int = 0) -> Agent:
    """ "scripted" gives the scripted expert (with its demonstration noise); anything else is a
    diffusion-policy checkpoint, a release name (`released:state/open_drawer`), or a directory of
    checkpoints named by skill (DIR/<skill>, `released:state`), so one `--policy` can evaluate every
    skill. Its actions reach the arm `action_delay` control periods late (eval/latency.py)."""
    check_skill(skill)
    check_periods(action_delay)
    if spec == SCRIPTED:
        expert = ScriptedExpert(noise_std=DEFAULT_NOISE, seed=seed)
        return DelayedAgent(expert, action_delay) if action_delay else expert
    path = resolve(spec)
    if (path / skill).is_dir():
        path = path / skill
    if not path.exists():
        raise FileNotFoundError(f"policy checkpoint {spec} does not exist (use '{SCRIPTED}' for the scripted expert)")
    # Imported here: the policy package pulls in torch, which scripted evaluation does not need.
    # The closed-loop agent runs state policies directly and filters the world model's latent along
    # the episode for latent (DiWA) policies.
    from diwa.policy.closed_loop import ClosedLoopAgent

    return ClosedLoopAgent.from_checkpoint(path, skill, seed, action_delay)
