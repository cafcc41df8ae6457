package cli_test

import (
	"testing"

	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestMain removes the butler binary the end-to-end tests build once per process.
func TestMain(m *testing.M) {
	defer repotest.RemoveBinary()
	m.Run()
}
