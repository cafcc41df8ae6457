#!/usr/bin/env bash
# The main job end to end on SQLite: build the butler, create a repository,
# register LSSTCam, generate sample raws, ingest them, define visits, and query them
# (also on the sky).
# Usage: bash scripts/demo.sh [WORKDIR]   (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d -t butler-demo.XXXXXX)}"
mkdir -p "$work"
bin="$work/bin/butler"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

echo "Building the butler (static, CGO_ENABLED=0) into $bin"
CGO_ENABLED=0 go build -o "$bin" ./cmd/butler
repo="$work/repo"
raws="$work/raws"

step butler create "$repo"
"$bin" create "$repo"

step butler register-instrument "$repo" lsst.obs.lsst.LsstCam
"$bin" register-instrument "$repo" lsst.obs.lsst.LsstCam

step butler generate-raws --instrument LSSTCam --exposures 20 --detectors 25 "$raws"
"$bin" generate-raws --instrument LSSTCam --exposures 20 --detectors 25 "$raws"

step butler ingest-raws --transfer symlink --processes 4 "$repo" "$raws"
"$bin" ingest-raws --transfer symlink --processes 4 "$repo" "$raws"

step butler define-visits "$repo" lsst.obs.lsst.LsstCam
"$bin" define-visits "$repo" lsst.obs.lsst.LsstCam

step butler query-datasets "$repo" raw --collections LSSTCam/raw/all --where "'visit_detector_region.region OVERLAPS POINT(151.22, -7.55)'"
"$bin" query-datasets "$repo" raw --collections LSSTCam/raw/all --where "visit_detector_region.region OVERLAPS POINT(151.22, -7.55)"

step butler query-collections "$repo"
"$bin" query-collections "$repo"

step butler query-dataset-types --verbose "$repo"
"$bin" query-dataset-types --verbose "$repo"

step butler query-dimension-records "$repo" exposure --where "instrument='LSSTCam'" --limit 5
"$bin" query-dimension-records "$repo" exposure --where "instrument='LSSTCam'" --limit 5

step butler query-datasets "$repo" raw --collections LSSTCam/raw/all --where "exposure.seq_num = 3 AND detector IN (0..100)" --show-uri
"$bin" query-datasets "$repo" raw --collections LSSTCam/raw/all --where "exposure.seq_num = 3 AND detector IN (0..100)" --show-uri

step "butler ingest-raws ... again (idempotent: everything is skipped)"
"$bin" ingest-raws --transfer symlink --processes 4 "$repo" "$raws"

step butler query-datasets "$repo" raw --collections LSSTCam/raw/all --where "detector = 9999"
"$bin" query-datasets "$repo" raw --collections LSSTCam/raw/all --where "detector = 9999"

other="$work/other"
step butler export "$repo" "$work/export" -d raw --collections LSSTCam/raw/all --where "exposure.seq_num <= 2" --transfer symlink
"$bin" export "$repo" "$work/export" -d raw --collections LSSTCam/raw/all --where "exposure.seq_num <= 2" --transfer symlink

step butler create "$other"
"$bin" create "$other"

step butler import "$other" "$work/export" --transfer symlink
"$bin" import "$other" "$work/export" --transfer symlink

step butler transfer-datasets "$repo" "$other" -d raw --collections LSSTCam/raw/all --register-dataset-types
"$bin" transfer-datasets "$repo" "$other" -d raw --collections LSSTCam/raw/all --register-dataset-types

step butler query-data-ids "$other" exposure --where "exposure.seq_num IN (1..3)" --order-by -exposure
"$bin" query-data-ids "$other" exposure --where "exposure.seq_num IN (1..3)" --order-by -exposure

echo
echo "Done. Repository: $repo, and the copy $other  (binary: $bin)"
