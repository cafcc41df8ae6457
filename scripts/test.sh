#!/usr/bin/env bash
# Runs every test: formatting, vet, the unit and integration tests (real SQLite,
# real FITS files, the real binary as a subprocess), and short fuzz runs.
# Works on a fresh Debian machine with Go; installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CGO_ENABLED=0
export BUTLER_TEST_CORPUS="${BUTLER_TEST_CORPUS:-$(cd .. && pwd)/shared/corpus}"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 20m ./...

echo "== fuzz (short)"
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 10s ./internal/query
go test -run '^$' -fuzz '^FuzzReadHeaders$' -fuzztime 10s ./internal/fits
