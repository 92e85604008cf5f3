#!/usr/bin/env bash
# The full state pipeline for one independent seed set, end to end: wide play, demonstrations and
# BC policies, the quick world model, reward classifiers, and DiWA fine-tuning of all 8 skills, each
# evaluated on 100 paired simulator episodes. Every seed is derived from one base seed S, so seed sets
# with different S share nothing. Rerun the same command after an interruption: finished stages are
# skipped (a `.done` marker each) and the world model and fine-tuning runs resume where they stopped.
#
#   scripts/seed_set.sh OUT_DIR S [VARIANT ...]     (after `source scripts/env.sh`; repository root)
#
# Each fine-tuned skill then gets its pre-deployment verdict (`diwa verdict`, from world models
# alone), to be checked against the simulator's paired evaluation, and its latency check (`diwa
# latency-check`: that evaluation with 1 and 2 control periods of command delay, which the promotion
# gate also reads; about 3 minutes on 2 cores). With JUDGE_SEED set, a second
# world model and its reward classifiers are trained with that seed (beside the first model, after
# the BC policies) and confirm each verdict (`--judge-wm`); on the same play, or with
# JUDGE_PLAY_SEED on play of their own, which shares fewer of the first model's errors (how the
# release was judged); without JUDGE_SEED every verdict is "uncertain" by rule
# (docs/results/verdict_cross_model).
# VARIANTs name the fine-tuning runs to make (default: plain guard): `plain` is `diwa finetune` as
# shipped, `guard` adds --guard (the model-error ensemble), `trust` adds --base-kl 0.03 (a KL trust
# region to the BC policy); `guard:open_drawer,close_drawer` runs a variant on those skills only
# (an ablation on fewer skills costs less time). Seeds: play S, demonstrations 100*S+i for skill i, BC S, world model
# S, rewards S, fine-tuning S, evaluation 1000+S; the environment variables PLAY_SEED, DEMO_SEED
# (the base of 100*S), BC_SEED, WM_SEED, REWARD_SEED, FT_SEED and EVAL_SEED set them one by one, to
# rerun an earlier seed set. About 100 minutes on 2 cores (the world model takes one core for ~45
# minutes while the BC policies train on the other); JUDGE_SEED adds about 45 core-minutes, little
# wall time on an idle machine (the second model trains on the other core once the BC policies are
# done).
set -euo pipefail
O="${1:?usage: seed_set.sh OUT_DIR SEED [VARIANT ...]}"
S="${2:?usage: seed_set.sh OUT_DIR SEED [VARIANT ...]}"
shift 2
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(plain guard)
SKILLS=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led)
# The LED skills learn from 10 demonstrations: from 50 the BC policy is near-perfect (scripts/bc_experiment.sh).
declare -A DEMOS=([turn_on_led]=10 [turn_off_led]=10)
declare -A VARIANT_FLAGS=([plain]="" [guard]="--guard" [trust]="--base-kl 0.03")
variant_skills() {  # variant_skills SPEC: the skills a VARIANT[:skill,...] spec runs on, one line
  local spec="$1"
  [[ -v "VARIANT_FLAGS[${spec%%:*}]" ]] || { echo "seed_set.sh: unknown variant '${spec%%:*}' (plain, guard, trust)" >&2; return 1; }
  if [[ "$spec" == *:* ]]; then
    local s
    for s in ${spec#*:}; do
      [[ " ${SKILLS[*]} " == *" $s "* ]] || { echo "seed_set.sh: unknown skill '$s' in '$spec'" >&2; return 1; }
    done
    echo "${spec#*:}"
  else
    echo "${SKILLS[*]}"
  fi
}

for spec in "${VARIANTS[@]}"; do  # check every spec before hours of work
  variant_skills "${spec//,/ }" > /dev/null
done
PLAY_SEED="${PLAY_SEED:-$S}"
DEMO_SEED="${DEMO_SEED:-$((100 * S))}"
BC_SEED="${BC_SEED:-$S}"
WM_SEED="${WM_SEED:-$S}"
REWARD_SEED="${REWARD_SEED:-$S}"
FT_SEED="${FT_SEED:-$S}"
EVAL_SEED="${EVAL_SEED:-$((1000 + S))}"
mkdir -p "$O/logs"
echo "play $PLAY_SEED demos $DEMO_SEED+i bc $BC_SEED wm $WM_SEED reward $REWARD_SEED finetune $FT_SEED eval $EVAL_SEED" \
  "judge ${JUDGE_SEED:-none} judge_play ${JUDGE_PLAY_SEED:-$PLAY_SEED}" > "$O/seeds.txt"
started=$(date +%s)

STAGE_LABEL="seed set $S"
# shellcheck source=scripts/stages.sh
source "$(dirname "$0")/stages.sh"

collect_play() {  # collect_play SEED OUT
  rm -rf "$2"
  diwa data collect-play --frames 50000 --seed "$1" --near-miss-prob 0.3 --near-miss-m 0.03 0.09 \
    --free-motion-box -0.45 -0.45 0.30 0.40 0.05 0.66 --out "$2"
}

play() {
  collect_play "$PLAY_SEED" "$O/play"
}

JUDGE_PLAY="$O/play"
[ -n "${JUDGE_PLAY_SEED:-}" ] && JUDGE_PLAY="$O/judge/play"

bc() {
  for i in "${!SKILLS[@]}"; do
    local s="${SKILLS[$i]}"
    [ -f "$O/bc/policies/$s/policy.json" ] && continue
    rm -rf "$O/bc/demos/$s"
    diwa data collect-demos --skill "$s" --episodes 50 --seed $((DEMO_SEED + i)) --out "$O/bc/demos/$s" --quiet
    diwa train-policy --skill "$s" --demos "$O/bc/demos/$s" --max-demos "${DEMOS[$s]:-50}" \
      --out "$O/bc/policies/$s" --epochs 200 --seed "$BC_SEED" --threads 1 --no-progress
  done
}

world_model() {
  local resume=()
  [ -f "$O/wm/world_model.json" ] && resume=(--resume)
  diwa train-wm --data "$O/play" --out "$O/wm" --profile quick --steps 20000 --seed "$WM_SEED" --threads 1 \
    --no-progress --json "${resume[@]}"
}

judge_world_model() {  # the independent model of the verdict: JUDGE_SEED, on JUDGE_PLAY
  if [ ! -f "$JUDGE_PLAY/meta.json" ]; then collect_play "$JUDGE_PLAY_SEED" "$JUDGE_PLAY" > /dev/null; fi
  local resume=()
  [ -f "$O/judge/wm/world_model.json" ] && resume=(--resume)
  diwa train-wm --data "$JUDGE_PLAY" --out "$O/judge/wm" --profile quick --steps 20000 --seed "$JUDGE_SEED" \
    --threads 1 --no-progress --json "${resume[@]}"
}

bc_then_judge() {
  bc
  if [ -n "${JUDGE_SEED:-}" ]; then judge_world_model; fi
}

rewards() {  # rewards SKILL...: one core's share of the classifiers (and of the judge's)
  for s in "$@"; do
    if [ ! -f "$O/rewards/reward_$s.json" ]; then
      diwa train-reward --skill "$s" --wm "$O/wm" --data "$O/play" --out "$O/rewards" --seed "$REWARD_SEED" \
        --threads 1 --json
    fi
    if [ -n "${JUDGE_SEED:-}" ] && [ ! -f "$O/judge/rewards/reward_$s.json" ]; then
      diwa train-reward --skill "$s" --wm "$O/judge/wm" --data "$JUDGE_PLAY" --out "$O/judge/rewards" \
        --seed "$JUDGE_SEED" --threads 1 --json
    fi
  done
}

finetune() {  # finetune VARIANT SKILL...: both cores, one skill per core (diwa finetune-skills)
  local variant="$1"
  shift
  local flags
  read -r -a flags <<< "${VARIANT_FLAGS[$variant]}"
  local skills="$*"
  diwa finetune-skills --skills "${skills// /,}" --policies "$O/bc/policies" --wm "$O/wm" --reward "$O/rewards" \
    --out "$O/diwa_$variant" --workers 2 --seed "$FT_SEED" --eval-seed "$EVAL_SEED" --no-progress --json "${flags[@]}"
}

verdicts() {  # verdicts VARIANT SKILL...: the pre-deployment verdict on each fine-tuned skill
  local variant="$1"
  shift
  local judge=()
  [ -n "${JUDGE_SEED:-}" ] && judge=(--judge-wm "$O/judge/wm" --judge-reward "$O/judge/rewards")
  for s in "$@"; do
    diwa verdict --skill "$s" --run "$O/diwa_$variant/$s" --wm "$O/wm" --reward "$O/rewards" \
      --guard "$O/verdict_guard" --episodes 500 --seed "$FT_SEED" --json "${judge[@]}"
  done
}

latency_checks() {  # latency_checks VARIANT SKILL...: each run's evaluation replayed with command delay
  local variant="$1"
  shift
  for s in "$@"; do
    diwa latency-check "$O/diwa_$variant/$s" --delays 1,2 --json
  done
}

stage play play
both_cores bc bc_then_judge world_model world_model
both_cores rewards_a "rewards ${SKILLS[*]:0:4}" rewards_b "rewards ${SKILLS[*]:4:4}"
for spec in "${VARIANTS[@]}"; do
  variant="${spec%%:*}"
  read -r -a chosen <<< "$(variant_skills "${spec//,/ }")"
  stage "finetune_${variant}" finetune "$variant" "${chosen[@]}"
done
# The verdicts share one guard, fitted on the world model's play by the first of them.
first="${VARIANTS[0]%%:*}"
read -r -a chosen <<< "$(variant_skills "${VARIANTS[0]//,/ }")"
stage verdict_guard diwa verdict --skill "${chosen[0]}" --run "$O/diwa_${first}/${chosen[0]}" --wm "$O/wm" \
  --reward "$O/rewards" --guard "$O/verdict_guard" --episodes 500 --seed "$FT_SEED" --json
for spec in "${VARIANTS[@]}"; do
  variant="${spec%%:*}"
  read -r -a chosen <<< "$(variant_skills "${spec//,/ }")"
  half=$(((${#chosen[@]} + 1) / 2))
  both_cores "verdict_${variant}_a" "verdicts $variant ${chosen[*]:0:$half}" \
    "verdict_${variant}_b" "verdicts $variant ${chosen[*]:$half}"
  both_cores "latency_${variant}_a" "latency_checks $variant ${chosen[*]:0:$half}" \
    "latency_${variant}_b" "latency_checks $variant ${chosen[*]:$half}"
done
echo "[seed set $S] all stages done in $(($(date +%s) - started)) s (this invocation)"
