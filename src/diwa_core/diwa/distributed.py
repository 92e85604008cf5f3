"""Where training runs: the device check, and data-parallel training with torch.distributed for
processes started by torchrun.

`torchrun --standalone --nproc_per_node=N -m diwa train-wm ...` starts N copies of the command;
torchrun sets RANK, LOCAL_RANK and WORLD_SIZE, and `start` joins them into one process group (NCCL
on GPUs, gloo on CPUs). Without torchrun there is one process and nothing here does anything.

The rules every data-parallel trainer here follows, so a run is the same run on any number of
processes:
- The effective batch is the config's batch size, whatever the number of processes: every process
  draws the same global batch from the same random generator and trains on its own slice of it
  (`shard`). DistributedDataParallel averages the slices' gradients, which for a loss averaged over
  the batch is the gradient of the whole batch, so the learning rate needs no scaling. To use more
  processes for a larger batch instead, raise the batch size in the profile and scale the learning
  rate with it (the linear rule of Goyal et al., 2017, arXiv:1706.02677).
- Only rank 0 writes: checkpoints, TensorBoard, progress records and the console.
- A checkpoint holds what the global batch depends on (weights, optimizer, the shared generator),
  so a run resumes on another number of processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def check_device(name: str) -> None:
    """Refuse a torch device this machine does not have, with what it does have, before any work."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"--device {name!r} is not a torch device ({err})") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: this machine has no CUDA GPU (torch {torch.__version__}); use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available on this machine; use cpu")


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device: str) -> tuple[Ranks, str]:
    """Join the process group torchrun set up, if any: (this process's ranks, the device it trains
    on). On GPUs each process takes the GPU of its local rank."""
    if not launched_by_torchrun():
        return Ranks(), device
    ranks = Ranks(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0")))
    kind = torch.device(device).type
    if kind == "cuda":
        device = f"cuda:{ranks.local_rank}"
        torch.cuda.set_device(device)
    elif kind != "cpu":
        raise ValueError(f"--device {device}: data-parallel training runs on cuda (NCCL) or cpu (gloo)")
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    return ranks, device


def run(device: str, train: Callable[[Ranks, str], int]) -> int:
    """`train(ranks, device)` inside the process group, if torchrun started one; every process
    leaves the group when it returns or fails."""
    ranks, device = start(device)
    try:
        return train(ranks, device)
    finally:
        finish(ranks)


def finish(ranks: Ranks) -> None:
    """Leave the process group once every process got here (rank 0 may still be writing)."""
    if ranks.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(batch: int, ranks: Ranks) -> slice:
    """This process's slice of a global batch of `batch` items."""
    if batch % ranks.world_size:
        raise ValueError(
            f"the batch size {batch} does not divide among {ranks.world_size} processes; "
            "choose a process count that divides it"
        )
    size = batch // ranks.world_size
    return slice(ranks.rank * size, (ranks.rank + 1) * size)


def split(count: int, ranks: Ranks) -> slice:
    """This process's slice of `count` items shared out as evenly as they go (the last batch of an
    epoch need not divide; a process may get none). Trainers that use it weigh each process's loss
    by its share, so that the averaged gradient is the whole batch's."""
    size, extra = divmod(count, ranks.world_size)
    start = ranks.rank * size + min(ranks.rank, extra)
    return slice(start, start + size + (1 if ranks.rank < extra else 0))


def rank_seed(seed: int, ranks: Ranks, step: int = 0) -> int:
    """A seed for what each process draws for its own slice (e.g. latent samples): rank 0 keeps
    `seed`, so one process is the single-process run; the others differ by rank, and by the step
    they resume at (only rank 0's generator is checkpointed)."""
    if ranks.rank == 0:
        return seed
    return seed + 1_000_003 * ranks.rank + step
