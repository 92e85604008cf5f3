"""Shared test settings: one torch thread per test process, so that tests behave the same on a
2-core CI machine whether or not other work runs beside them."""

import torch

torch.set_num_threads(1)
