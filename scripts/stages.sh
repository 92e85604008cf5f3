# Stages of a resumable pipeline script, sourced by scripts/seed_set.sh and scripts/camera_set.sh.
# A stage runs once: its output goes to $O/logs/NAME.log and $O/.done_NAME marks it finished, so a
# rerun after an interruption skips it. $STAGE_LABEL names the run in the progress lines.

stage() {  # stage NAME COMMAND...: run once, then mark done
  local name="$1"
  shift
  if [ -f "$O/.done_$name" ]; then
    echo "[$STAGE_LABEL] $name: done before"
    return
  fi
  local t0
  t0=$(date +%s)
  echo "[$STAGE_LABEL] $name ..."
  "$@" > "$O/logs/$name.log" 2>&1 || { echo "[$STAGE_LABEL] $name FAILED: see $O/logs/$name.log" >&2; return 1; }
  touch "$O/.done_$name"
  echo "[$STAGE_LABEL] $name: $(($(date +%s) - t0)) s"
}

both_cores() {  # both_cores NAME_A "CMD_A" NAME_B "CMD_B": two stages side by side
  stage "$1" $2 &
  local pid=$!
  stage "$3" $4
  wait "$pid"  # a bare `wait` would hide the background stage's failure
}
