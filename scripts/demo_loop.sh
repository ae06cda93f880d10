#!/usr/bin/env bash
# Run `make demo` N times in a row (default 10) and report how many runs passed every check.
# Usage: scripts/demo_loop.sh [N] [LOG_DIR]   -- each run's output goes to LOG_DIR/demo-<i>.log.
# Exit status 0 only when every run passed; the last line is the tally, e.g. "demo: 10/10 runs passed (42/42 checks each)".
set -uo pipefail

runs="${1:-10}"
logs="${2:-${TMPDIR:-/tmp}/exsync-demo-loop}"
mkdir -p "$logs"
cd "$(dirname "$0")/.." || exit 2

passed=0
checks=""
for i in $(seq 1 "$runs"); do
    log="$logs/demo-$i.log"
    start=$(date +%s)
    if make demo >"$log" 2>&1; then
        passed=$((passed + 1))
        verdict="passed"
    else
        verdict="FAILED"
    fi
    total=$(grep -oE 'all [0-9]+ checks passed' "$log" | grep -oE '[0-9]+' | tail -1)
    failed=$(grep -oE '[0-9]+ check\(s\) failed' "$log" | grep -oE '^[0-9]+' | tail -1)
    [ -n "$total" ] && checks="$total/$total"
    echo "run $i/$runs: $verdict in $(( $(date +%s) - start )) s${failed:+ ($failed check(s) failed, see $log)}"
    if [ "$verdict" = "FAILED" ]; then
        grep -E 'FAILED' "$log" | sed 's/^/    /' | head -5
    fi
done
echo "demo: $passed/$runs runs passed${checks:+ ($checks checks each)}"
[ "$passed" -eq "$runs" ]
