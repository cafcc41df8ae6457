#!/usr/bin/env bash
# Runs every test: formatting, vet, the unit and integration tests (real SQLite and
# PostgreSQL, real FITS files, the real binary as a subprocess), and short fuzz runs.
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

# CI tools are built with GOBIN at pinned versions into this cache directory, so they never
# enter go.mod; a stamp file next to each records the version it was built at (versitygw
# cannot say its own). internal/testutil/s3test finds versitygw here.
ci_bin="${XDG_CACHE_HOME:-$HOME/.cache}/butler-ci/bin"
# ci_tool NAME PACKAGE VERSION builds PACKAGE@VERSION as $ci_bin/NAME unless the stamp has it.
ci_tool() {
  if [ ! -x "$ci_bin/$1" ] || [ "$(cat "$ci_bin/$1.version" 2>/dev/null)" != "$3" ]; then
    mkdir -p "$ci_bin"
    GOBIN="$ci_bin" go install "$2@$3"
    echo "$3" > "$ci_bin/$1.version"
  fi
}

echo "== staticcheck"
# 2026.2.2 (v0.8.2): the newest release; the v0.8 line is the first built with Go 1.26.
ci_tool staticcheck honnef.co/go/tools/cmd/staticcheck v0.8.2
# Any finding fails the run (staticcheck exits non-zero).
"$ci_bin/staticcheck" ./...

echo "== S3 test server (versitygw)"
ci_tool versitygw github.com/versity/versitygw/cmd/versitygw v1.8.0
# CI must not skip the S3 tests for want of a server.
export BUTLER_TEST_REQUIRE="${BUTLER_TEST_REQUIRE:+$BUTLER_TEST_REQUIRE,}s3"

echo "== PostgreSQL server (registry tests start private clusters with it)"
# internal/testutil/pgtest runs initdb and postgres from /usr/lib/postgresql/*/bin as the
# postgres user; btree_gist comes with the server's contrib modules.
have_pg() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 &&
    ls /usr/share/postgresql/*/extension/btree_gist.control >/dev/null 2>&1
}
if ! have_pg && command -v apt-get >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # The tests need the binaries, not Debian's default cluster.
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    $sudo mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
fi
# With the server installed (and always in CI), a PostgreSQL test must not skip.
if [ "${CI:-}" = true ] || have_pg; then
  export BUTLER_TEST_REQUIRE="${BUTLER_TEST_REQUIRE:+$BUTLER_TEST_REQUIRE,}postgres"
fi

echo "== Python reference butler (the interop suite, internal/interop, runs against it)"
# ../shared/pyref builds daf_butler w.2023.51 from source with Debian packages only. The
# build is cached on this machine (a built directory is only checked, in about 2 s); a
# failed build stops the tests here. CI must not skip the interop suite for want of it.
pyref_kit="${BUTLER_PYREF_KIT:-$(cd .. && pwd)/shared/pyref}"
export BUTLER_PYREF="${BUTLER_PYREF:-${XDG_CACHE_HOME:-$HOME/.cache}/butler-ci/pyref}"
pyref_start=$(date +%s)
if ! bash "$pyref_kit/build.sh" "$BUTLER_PYREF"; then
  echo "FAILED: could not build the Python reference butler from $pyref_kit into $BUTLER_PYREF" >&2
  exit 1
fi
echo "pyref: $BUTLER_PYREF ready in $(( $(date +%s) - pyref_start )) s"
export BUTLER_TEST_REQUIRE="${BUTLER_TEST_REQUIRE:+$BUTLER_TEST_REQUIRE,}pyref"

echo "== go test"
go test -count=1 -timeout 20m ./...

echo "== fuzz (short)"
# Execution counts, not durations: a -fuzztime duration races the Go 1.26
# fuzz coordinator at its deadline (golang/go#75804) and fails spuriously.
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 200000x ./internal/query
go test -run '^$' -fuzz '^FuzzReadHeaders$' -fuzztime 80000x ./internal/fits
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 150000x ./sphgeom
go test -run '^$' -fuzz '^FuzzRead$' -fuzztime 10000x ./internal/exportfile
