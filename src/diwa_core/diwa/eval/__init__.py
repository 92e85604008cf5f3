"""Evaluation harness: success rates of a policy per skill in the simulator, with reports and plots."""

from diwa.eval.harness import EpisodeResult, SkillReport, evaluate, evaluate_skills
from diwa.eval.stats import wilson_interval

__all__ = ["EpisodeResult", "SkillReport", "evaluate", "evaluate_skills", "wilson_interval"]
