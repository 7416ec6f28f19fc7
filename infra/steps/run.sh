#!/usr/bin/env bash
# run.sh STAGE... — make test's driver. Each argument is a stage: make
# targets joined by commas, run side by side; the stages run one after
# another, and the first failing stage ends the run. Each step's output goes
# to .build/test-logs/<step>.log and is printed whole when its stage ends
# (side-by-side steps would otherwise interleave). At the end: each step's
# wall time, each stage's, and the total.
#
# Steps share a stage when one of them mostly waits: test-external-dynamodb
# spends most of its time on moto's replies (one request at a time through
# infra/serialproxy), so it runs beside test-go at little CPU cost.
set -uo pipefail
MAKE=${MAKE:-make}
logs=.build/test-logs
mkdir -p "$logs"
summary=.build/test-times
: > "$summary"
status=0
t0=$(date +%s)
for stage in "$@"; do
  IFS=, read -ra steps <<< "$stage"
  s0=$(date +%s)
  declare -A pids=() starts=()
  for step in "${steps[@]}"; do
    starts[$step]=$(date +%s)
    ( $MAKE --no-print-directory "$step" > "$logs/$step.log" 2>&1; rc=$?; echo "$rc $(date +%s)" > "$logs/$step.rc" ) &
    pids[$step]=$!
  done
  for step in "${steps[@]}"; do
    wait "${pids[$step]}"
    read -r rc end < "$logs/$step.rc"
    cat "$logs/$step.log"
    mark=""
    if [ "$rc" != 0 ]; then mark="  FAILED"; status=$rc; fi
    printf '  %-24s %4ds%s\n' "$step" $(( end - starts[$step] )) "$mark" >> "$summary"
  done
  if [ ${#steps[@]} -gt 1 ]; then
    printf '  %-24s %4ds  (side by side)\n' "= ${stage//,/ + }" $(( $(date +%s) - s0 )) >> "$summary"
  fi
  unset pids starts
  [ "$status" = 0 ] || break
done
printf '  %-24s %4ds\n' "total" $(( $(date +%s) - t0 )) >> "$summary"
echo "make test, time per step:"
cat "$summary"
exit "$status"
