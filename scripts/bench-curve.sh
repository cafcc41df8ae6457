#!/usr/bin/env bash
# Query time against repository size: builds registry-only LSSTCam repositories
# of about 1k, 10k, 100k, 1M and 10M raw datasets (bench query --exposures 5 …
# 48900, 205 detectors each), times the query commands on each and plots the
# curves as a PNG. Long: the 10M build and its listings take several minutes;
# SIZES picks a subset. Repositories are kept under WORKDIR and measured as
# they are when the script runs again.
# Usage: bash scripts/bench-curve.sh WORKDIR [postgresql://HOST:PORT/DB]
#   SIZES="5 49 489" REPEAT=3 bash scripts/bench-curve.sh /tmp/curve
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:?usage: bench-curve.sh WORKDIR [postgresql://HOST:PORT/DB]}"
db="${2:-}"
mkdir -p "$work"
bin="$work/butler"
CGO_ENABLED=0 go build -o "$bin" ./cmd/butler
dialect=sqlite
[ -n "$db" ] && dialect=postgresql
results=()
for n in ${SIZES:-5 49 489 4890 48900}; do
	args=(bench query --exposures "$n" --repo "$work/$dialect-$n" --repeat "${REPEAT:-5}" --format json)
	[ -n "$db" ] && args+=(--db "$db" --namespace "curve$n")
	echo "== $dialect, $n exposures" >&2
	"$bin" "${args[@]}" > "$work/$dialect-$n.json"
	results+=("$work/$dialect-$n.json")
done
"$bin" bench plot "$work/$dialect-curve.png" "${results[@]}"
