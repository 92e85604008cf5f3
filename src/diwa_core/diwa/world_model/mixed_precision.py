"""Mixed precision for the world model's convolutional image pathway (`train-wm --amp`).

Only the CNN encoders and transposed-CNN decoders run in bfloat16 under autocast: they are where an
image profile spends its time (DiWA's depth-48 CNNs on two 64x64 cameras), and their outputs are
returned to float32 before anything is summed. The RSSM, its categorical distributions, the KL terms
and every loss stay in float32, as do all weights and optimiser moments, so a checkpoint is the
same kind of file either way and runs in float32 on a robot PC. bfloat16 keeps float32's exponent
range, so no loss scaling is needed (float16 would need a gradient scaler and can overflow).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

AMP_DTYPE = torch.bfloat16


def check_amp(device: str | torch.device, uses_images: bool, profile: str) -> None:
    """Refuse --amp where it would do nothing or cannot run, before any work."""
    if not uses_images:
        raise ValueError(
            f"--amp runs the image encoders and decoders in bfloat16; the {profile!r} profile has none (state only)"
        )
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"--amp needs bfloat16, which the GPU behind {device} does not support; train without it")


@contextlib.contextmanager
def image_precision(device: torch.device, enabled: bool) -> Iterator[None]:
    """bfloat16 autocast for the image networks inside, when `enabled`; float32 otherwise."""
    with torch.autocast(device.type, dtype=AMP_DTYPE, enabled=enabled):
        yield
