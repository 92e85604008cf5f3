"""What the camera world model's frozen image codes hold: linear probes from the codes of both
cameras (what the RSSM reads) to scene state the cameras should show. Lamps (on/off): held-out
accuracy against the majority class; drawer and slider (metres): held-out R^2. Episodes split 80/20.
Also how many pixels of each 64x64 camera the LED changes when it switches (same scene otherwise).
Writes OUT (default: probe.json beside this script).

    python docs/results/camera_route/probe.py WM_DIR PLAY_DIR [OUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from diwa.data.dataset import load_dataset
from diwa.world_model.image_codes import encode_images
from diwa.world_model.store import load_world_model

# scene_obs indices (docs/reference.md §3)
CONTINUOUS = {"slider": 0, "drawer": 1}
BINARY = {"lightbulb": 4, "led": 5}


def fit_probe(x: np.ndarray, y: np.ndarray, train: np.ndarray, binary: bool) -> np.ndarray:
    """Predictions for every frame from a ridge-regularised linear map fitted on `train`."""
    xt = torch.from_numpy(np.hstack([x, np.ones((len(x), 1), np.float32)]))
    target = torch.from_numpy(y.astype(np.float32))
    if binary:
        weights = torch.zeros(xt.shape[1], requires_grad=True)
        optimiser = torch.optim.LBFGS([weights], max_iter=200)

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            logits = xt[train] @ weights
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[train])
            loss = loss + 1e-4 * weights.square().sum()
            loss.backward()
            return loss

        optimiser.step(closure)
        return (xt @ weights.detach()).numpy() > 0
    a = xt[train]
    weights = torch.linalg.solve(a.T @ a + 1e-3 * torch.eye(a.shape[1]), a.T @ target[train])
    return (xt @ weights).numpy()


def led_pixels(starts: int = 5) -> dict[str, list[int]]:
    """Pixels (summed RGB difference > 30) that change when only the LED switches, per start state."""
    from diwa.sim.config import SimConfig
    from diwa.sim.make import make_env
    from diwa.sim.start_states import sample_start_state

    env = make_env(SimConfig.paper_profile(cameras=("static", "gripper")))
    changed: dict[str, list[int]] = {"rgb_static": [], "rgb_gripper": []}
    try:
        for seed in range(starts):
            robot, scene = sample_start_state("turn_on_led", np.random.default_rng(seed))
            frames = []
            for led in (0.0, 1.0):
                obs, _ = env.reset(options={"robot_obs": robot, "scene_obs": np.r_[scene[:5], led, scene[6:]]})
                frames.append(obs)
            for key in changed:
                diff = np.abs(frames[0][key].astype(int) - frames[1][key].astype(int)).sum(-1)
                changed[key].append(int((diff > 30).sum()))
    finally:
        env.close()
    return changed


def main() -> None:
    model, _ = load_world_model(sys.argv[1])
    dataset = load_dataset(sys.argv[2])
    torch.set_num_threads(1)
    codes = encode_images(model.autoencoder, dataset.images)
    x = np.hstack([codes[k] for k in sorted(codes)])
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    rng = np.random.default_rng(0)
    held_out = set(rng.choice(len(dataset.episodes), len(dataset.episodes) // 5, replace=False).tolist())
    episode_of = np.zeros(len(dataset), int)
    for i, (s, e) in enumerate(dataset.episodes):
        episode_of[s : e + 1] = i
    test = np.isin(episode_of, list(held_out))
    train = ~test
    scene = np.asarray(dataset.scene_obs)
    results: dict[str, dict[str, float]] = {}
    for name, col in BINARY.items():
        y = scene[:, col] > 0.5
        predicted = fit_probe(x, y, train, binary=True)
        results[name] = {
            "held_out_accuracy": float((predicted[test] == y[test]).mean()),
            "majority_class": float(max(y[test].mean(), 1 - y[test].mean())),
        }
    for name, col in CONTINUOUS.items():
        y = scene[:, col]
        predicted = fit_probe(x, y, train, binary=False)
        residual = ((predicted[test] - y[test]) ** 2).mean()
        r2 = float(1 - residual / y[test].var())
        results[name] = {"held_out_r2": r2, "held_out_rmse_m": float(np.sqrt(residual))}
    results["led_changes_pixels_of_4096"] = led_pixels()  # type: ignore[assignment]
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(__file__).with_name("probe.json")
    out.write_text(json.dumps({"world_model": sys.argv[1], "code_dim": int(x.shape[1]), **results}, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
