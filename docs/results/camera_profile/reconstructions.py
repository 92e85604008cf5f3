"""Camera frames of held-out play beside what the camera world model makes of them: the frozen
encoder's reconstruction, the posterior's decoding, and open-loop imagination from the first frame
through the recorded actions (4 and 18 steps on). Writes reconstructions.png beside this script.

    python docs/results/camera_profile/reconstructions.py WM_DIR PLAY_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from diwa.data.dataset import load_dataset
from diwa.world_model.config import IMAGE_KEYS
from diwa.world_model.store import load_world_model

HORIZONS = (4, 18)


@torch.no_grad()
def main() -> None:
    model, info = load_world_model(sys.argv[1])
    dataset = load_dataset(sys.argv[2])
    val = [tuple(r) for r in info.provenance["split"]["val"]]
    rng = np.random.default_rng(0)
    rows = []
    for start, end in [val[i] for i in rng.choice(len(val), 3, replace=False)]:
        first = int(rng.integers(start, end - max(HORIZONS)))
        frames = np.arange(first, first + max(HORIZONS) + 1)
        obs = {"robot_obs": torch.from_numpy(np.asarray(dataset.robot_obs[frames], np.float32))[None]}
        obs.update({k: torch.from_numpy(np.asarray(dataset.images[k][frames]))[None] for k in IMAGE_KEYS})
        prev = np.zeros((1, len(frames), 7), np.float32)
        prev[0, 1:] = dataset.rel_actions[frames[:-1]]
        generator = torch.Generator().manual_seed(0)
        posts, _ = model.observe(obs, torch.from_numpy(prev), None, generator)
        posterior = model.decode(posts.features())
        start_state = posts.index((slice(None), 0))
        imagined = model.decode(model.imagine(start_state, torch.from_numpy(prev[:, 1:]), generator).features())
        for key in IMAGE_KEYS:
            code = model.autoencoder.encode(key, obs[key][0, :1])
            autoencoded = (model.autoencoder.decode(key, code)[0] + 0.5).clamp(0, 1).permute(1, 2, 0).numpy()
            row = [("frame t", obs[key][0, 0].numpy() / 255.0), ("encoder", autoencoded)]
            row.append(("posterior t", posterior[key][0, 0].numpy()))
            for h in HORIZONS:
                row.append((f"frame t+{h}", obs[key][0, h].numpy() / 255.0))
                row.append((f"imagined t+{h}", imagined[key][0, h - 1].numpy()))
            rows.append((key, row))
    fig, axes = plt.subplots(len(rows), len(rows[0][1]), figsize=(1.6 * len(rows[0][1]), 1.7 * len(rows)))
    for r, (key, row) in enumerate(rows):
        for c, (title, image) in enumerate(row):
            axes[r, c].imshow(np.clip(image, 0, 1))
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(title, fontsize=8)
        axes[r, 0].set_ylabel(key.removeprefix("rgb_"), fontsize=8)
    fig.tight_layout()
    out = Path(__file__).with_name("reconstructions.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
