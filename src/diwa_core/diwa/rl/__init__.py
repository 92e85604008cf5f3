"""Reinforcement-learning fine-tuning of diffusion policies: DiWA in imagination, DPPO online."""
