"""Open-loop prediction error: does imagination stay close to what really happened?

From a held-out frame t0 the model encodes the single observation (exactly as imagination starts),
then rolls its prior forward through the actions actually taken, without seeing any further
observation. Its predictions at t0 + h are compared with the recorded observations, and with the
naive baseline that predicts no change (observation t0). Horizons 4, 18 and 72 are one action chunk,
half an imagined episode and a whole one (docs/reference.md §1).

Two predictions of the model are scored: `model`, the state decoded from the imagined latent alone,
and, for a model with a change head, `anchored`: observation t0 plus the predicted change since t0.
The decoded state carries the latent's reconstruction error from the first step on (about a
centimetre on block poses that never move in play), which no-change, copying t0, never has; the
anchored prediction has the same information as the baseline plus the model's, so it is the
fair comparison for "does the model know more than that nothing moves".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from diwa.data.dataset import Dataset
from diwa.world_model.model import WorldModel
from diwa.world_model.observation import state_difference
from diwa.world_model.sequences import Range, window_starts
from diwa.world_model.store import WorldModelInfo

HORIZONS: tuple[int, ...] = (4, 18, 72)


def held_out_ranges(info: WorldModelInfo, dataset: Dataset) -> tuple[list[Range], str]:
    """The validation segments if `dataset` is the training data, else the whole dataset."""
    if info.provenance.get("dataset_hash") == dataset.content_hash():
        return [tuple(r) for r in info.provenance["split"]["val"]], "held-out segments of the training data"
    return list(dataset.episodes), "all episodes (not the training data)"


@torch.no_grad()
def open_loop_errors(
    model: WorldModel,
    dataset: Dataset,
    ranges: list[Range],
    horizons: tuple[int, ...] = HORIZONS,
    max_starts: int = 512,
    seed: int = 0,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Mean absolute and squared errors per horizon and observation vector, model vs baseline.

    Angles are compared modulo 2 pi. Returns {"starts": n, "horizons": {h: {predictor: {key:
    {"mae", "mse", "mae_per_dim"}}}}} with predictors "model", "baseline" and, for a model with a
    change head, "anchored".
    """
    if not horizons or min(horizons) < 1:
        raise ValueError(f"horizons must be positive, got {horizons}")
    longest = max(horizons)
    starts = window_starts(ranges, longest + 1)
    if starts.size == 0:
        raise ValueError(f"no held-out stretch of play is {longest + 1} frames long; cannot evaluate {longest} steps")
    rng = np.random.default_rng(seed)
    if starts.size > max_starts:
        starts = np.sort(rng.choice(starts, size=max_starts, replace=False))
    generator = torch.Generator(device=model.device).manual_seed(seed)
    keys = model.config.observation.state_keys
    predictors = ("model", "anchored", "baseline") if model.change_decoder is not None else ("model", "baseline")
    index_h = np.asarray(horizons)
    # Per (predictor, key): sums over starts of |error| and error^2, shape (horizons, dims).
    abs_sum: dict[tuple[str, str], np.ndarray] = {}
    sq_sum: dict[tuple[str, str], np.ndarray] = {}
    model.eval()
    for begin in range(0, starts.size, batch_size):
        t0 = starts[begin : begin + batch_size]
        first = model.to_tensors({k: _frames(dataset, k, t0) for k in model.observation_keys})
        actions = torch.from_numpy(np.asarray(dataset.rel_actions[t0[:, None] + np.arange(longest)], np.float32))
        start_state = model.encode_start(first, generator)
        priors = model.imagine(start_state, actions.to(model.device), generator)
        features = priors.features()[:, index_h - 1]
        predicted = model.decode(features)
        anchored = model.predict_from_start(first, start_state, features) if "anchored" in predictors else {}
        for key in keys:
            truth = torch.from_numpy(np.asarray(getattr(dataset, key), np.float32)[t0[:, None] + index_h])
            start = first[key].float().cpu().unsqueeze(1).expand_as(truth)
            guesses = {"model": predicted[key], "baseline": start}
            if anchored:
                guesses["anchored"] = anchored[key]
            for who, guess in guesses.items():
                err = state_difference(guess.cpu(), truth, key)
                abs_sum[who, key] = abs_sum.get((who, key), 0.0) + err.abs().sum(0).numpy()
                sq_sum[who, key] = sq_sum.get((who, key), 0.0) + err.square().sum(0).numpy()
    n = int(starts.size)
    report: dict[str, Any] = {"starts": n, "horizons": {}}
    for j, h in enumerate(horizons):
        report["horizons"][h] = {
            who: {
                key: {
                    "mae": float(abs_sum[who, key][j].mean() / n),
                    "mse": float(sq_sum[who, key][j].mean() / n),
                    "mae_per_dim": [float(x) for x in abs_sum[who, key][j] / n],
                }
                for key in keys
            }
            for who in predictors
        }
    return report


def _frames(dataset: Dataset, key: str, index: np.ndarray) -> np.ndarray:
    return np.asarray(dataset.images[key][index] if key in dataset.images else getattr(dataset, key)[index])


COLUMNS = {"model": "model", "anchored": "anchored", "baseline": "no-change"}


def format_report(report: dict[str, Any], where: str) -> str:
    first = next(iter(report["horizons"].values()))
    keys = list(first["model"])
    predictors = [p for p in COLUMNS if p in first]
    lines = [f"open-loop prediction from {report['starts']} starts in {where} (mean absolute error, observation units)"]
    for key in keys:
        lines.append(f"{key:>12}" + "".join(f"  {COLUMNS[p]:>10}" for p in predictors))
        for h, row in report["horizons"].items():
            lines.append(f"{h:>12}" + "".join(f"  {row[p][key]['mae']:>10.5f}" for p in predictors))
    return "\n".join(lines)
