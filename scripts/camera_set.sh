#!/usr/bin/env bash
# The camera route end to end for one seed set, on 2 CPU cores: play and demonstrations recorded
# with both cameras at 64x64, the camera world model (`--profile camera`: an image encoder trained
# first and frozen, then the RSSM on its codes), BC policies on its latent, reward classifiers on its
# latent, and DiWA fine-tuning of all 8 skills, each evaluated on 100 paired simulator episodes
# rendered from the cameras. Nothing a policy or the latent filter reads holds scene_obs; the oracle
# only judges success. Seeds as scripts/seed_set.sh (play S, demonstrations 100*S+i, BC, world model,
# rewards and fine-tuning S, evaluation 1000+S), so set S's state route is the reference. Rerun the
# same command after an interruption: finished stages are skipped, the world model resumes. The
# layout is seed_set.sh's (bc/demos, bc/policies, wm, rewards, diwa_plain), so `diwa release` and
# `diwa report-seeds` read it the same way.
#
#   scripts/camera_set.sh OUT_DIR S     (after `source scripts/env.sh`; repository root)
#   WM_PROFILE=FILE.yaml scripts/camera_set.sh ...   trains the world model on another profile
#   JUDGE_ONLY=1 scripts/camera_set.sh ...   play, world model and reward classifiers only: the
#                                            independent model of other runs' verdicts
#   WM_THREADS=1 scripts/camera_set.sh ...   the world model on one thread (default 2), beside other work
set -euo pipefail
O="${1:?usage: camera_set.sh OUT_DIR SEED}"
S="${2:?usage: camera_set.sh OUT_DIR SEED}"
SKILLS=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led)
declare -A DEMOS=([turn_on_led]=10 [turn_off_led]=10)  # as the state route (scripts/seed_set.sh)
CAMERAS=(--cameras --static-size 64 --gripper-size 64)
mkdir -p "$O/logs"
echo "play $S demos $((100 * S))+i bc $S wm $S reward $S finetune $S eval $((1000 + S))" > "$O/seeds.txt"

STAGE_LABEL="camera set $S"
# shellcheck source=scripts/stages.sh
source "$(dirname "$0")/stages.sh"

play() {
  diwa data collect-play --frames 50000 --seed "$S" --near-miss-prob 0.3 --near-miss-m 0.03 0.09 \
    --free-motion-box -0.45 -0.45 0.30 0.40 0.05 0.66 --out "$O/play" --overwrite "${CAMERAS[@]}" --quiet
}

demos() {
  for i in "${!SKILLS[@]}"; do
    diwa data collect-demos --skill "${SKILLS[$i]}" --episodes 50 --seed $((100 * S + i)) \
      --out "$O/bc/demos/${SKILLS[$i]}" --overwrite "${CAMERAS[@]}" --quiet
  done
}

world_model() {
  local resume=()
  [ -f "$O/wm/world_model.json" ] && resume=(--resume)
  diwa train-wm --data "$O/play" --out "$O/wm" --profile "${WM_PROFILE:-camera}" --seed "$S" --threads "${WM_THREADS:-2}" --no-progress --json "${resume[@]}"
}

bc() {  # bc SKILL...: latent features of the demonstrations, then a BC policy on them
  for s in "$@"; do
    mkdir -p "$O/bc/features"
    diwa featurize --wm "$O/wm" --data "$O/bc/demos/$s" --out "$O/bc/features/$s.npy" --seed "$S"
    diwa train-policy --skill "$s" --demos "$O/bc/demos/$s" --features "$O/bc/features/$s.npy" \
      --max-demos "${DEMOS[$s]:-50}" --out "$O/bc/policies/$s" --overwrite --epochs 200 --seed "$S" --threads 1 \
      --no-progress
  done
}

rewards() {  # rewards SKILL...
  for s in "$@"; do
    diwa train-reward --skill "$s" --wm "$O/wm" --data "$O/play" --out "$O/rewards" --seed "$S" --threads 1 --json
  done
}

stage play play
if [ -n "${JUDGE_ONLY:-}" ]; then  # another run's verdict judge: the world model and its classifiers
  stage world_model world_model
  both_cores rewards_a "rewards ${SKILLS[*]:0:4}" rewards_b "rewards ${SKILLS[*]:4:4}"
  exit 0
fi
stage demos demos
stage world_model world_model
both_cores bc_a "bc ${SKILLS[*]:0:4}" bc_b "bc ${SKILLS[*]:4:4}"
both_cores rewards_a "rewards ${SKILLS[*]:0:4}" rewards_b "rewards ${SKILLS[*]:4:4}"
stage finetune_plain diwa finetune-skills --skills all --policies "$O/bc/policies" --wm "$O/wm" \
  --reward "$O/rewards" --out "$O/diwa_plain" --workers 2 --seed "$S" --eval-seed $((1000 + S)) --no-progress --json
