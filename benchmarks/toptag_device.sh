#!/usr/bin/env bash
# Top tagging at device scale (issue 12): >= 100k generated jets, every row of bench_toptag,
# and the learning curve, as one resumable script whose every call fits a 10-minute command.
#
#   bash benchmarks/toptag_device.sh            # rerun until it prints "all done"
#
# Each call works for at most $BUDGET seconds (default 540) and stops cleanly: the jets are
# generated in seeded 1000-jet chunks by $WORKERS processes (each chunk is deterministic, so the
# file does not depend on how many processes made it), training runs resume from their last
# epoch and finished rows are skipped (bench_toptag's results.json). Environment:
#   N_JETS (100000), WORKERS (host cores), DEVICE (cuda), OUT (results/toptag_device),
#   SEEDS (3), EPOCHS (10), BUDGET (540), ROWS (every row; the paper row needs PAPER_METRIC),
#   CURVE (3000,20000: training jets of the learning curve; all of them is the first step).
set -euo pipefail
cd "$(dirname "$0")/.."

N_JETS=${N_JETS:-100000}
WORKERS=${WORKERS:-$(nproc)}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-results/toptag_device}
SEEDS=${SEEDS:-3}
EPOCHS=${EPOCHS:-10}
BUDGET=${BUDGET:-540}
ROWS=${ROWS:-eta,discovered,learnable,identity,pelican,lgatr,lloca}
PAPER_METRIC=${PAPER_METRIC:-}
CURVE=${CURVE:-3000,20000}
JETS="$OUT/cache/toptag/generated_${N_JETS}_seed0.h5"
deadline=$((SECONDS + BUDGET))

left() { echo $((deadline - SECONDS)); }

# a step that runs out of time is stopped (SIGINT, then SIGKILL) and resumes on the next call
step() {
    local t
    t=$(left)
    if ((t < 30)); then
        echo "out of time for this call: run it again"
        exit 0
    fi
    if ! timeout --signal=INT --kill-after=20 "$t" "$@"; then
        echo "stopped (time or error): run it again to resume"
        exit 0
    fi
}

mkdir -p "$(dirname "$JETS")"
if [[ ! -f "$JETS" ]]; then
    step python -m liegnn.datasets.toptag_generate "$JETS" --n-jets "$N_JETS" --seed 0 \
        --workers "$WORKERS"
fi

common=(--n-jets "$N_JETS" --out "$OUT" --device "$DEVICE" --threads 4 --seeds "$SEEDS"
    --epochs "$EPOCHS")
paper=()
if [[ -n "$PAPER_METRIC" ]]; then
    ROWS="$ROWS,paper"
    paper=(--paper-metric "$PAPER_METRIC")
fi
# every row on all training jets, then the learning curve of eta against the discovered J
step python benchmarks/bench_toptag.py "${common[@]}" --rows "$ROWS" "${paper[@]}"
step python benchmarks/bench_toptag.py "${common[@]}" --rows eta,discovered "${paper[@]}" \
    --train-jets "$CURVE"
echo "all done: $OUT/results.json"
