"""Diffusion policies: noise schedule, denoiser networks, the denoising MDP with per-step
log-probabilities, behaviour cloning, checkpoints, and the agent that runs a policy chunk by chunk."""
