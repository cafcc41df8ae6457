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

echo "== S3 test server (versitygw)"
# Built with GOBIN at a pinned version, so it never enters go.mod; internal/testutil/s3test
# finds it in this cache directory. A stamp file records the version (the binary cannot say).
versitygw_version=v1.8.0
ci_bin="${XDG_CACHE_HOME:-$HOME/.cache}/butler-ci/bin"
if [ ! -x "$ci_bin/versitygw" ] || [ "$(cat "$ci_bin/versitygw.version" 2>/dev/null)" != "$versitygw_version" ]; then
  mkdir -p "$ci_bin"
  GOBIN="$ci_bin" go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
  echo "$versitygw_version" > "$ci_bin/versitygw.version"
fi
# CI must not skip the S3 tests for want of a server.
export BUTLER_TEST_REQUIRE="${BUTLER_TEST_REQUIRE:+$BUTLER_TEST_REQUIRE,}s3"

echo "== go test"
go test -count=1 -timeout 20m ./...

echo "== fuzz (short)"
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 10s ./internal/query
go test -run '^$' -fuzz '^FuzzReadHeaders$' -fuzztime 10s ./internal/fits
