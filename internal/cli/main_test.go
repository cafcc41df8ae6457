package cli_test

import (
	"testing"

	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestMain removes the butler binary the end-to-end tests build once per
// process, and stops the PostgreSQL server if a test started it.
func TestMain(m *testing.M) {
	defer repotest.RemoveBinary()
	defer pgtest.Start()()
	m.Run()
}
