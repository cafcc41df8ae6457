package cli_test

import (
	"testing"

	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/internal/testutil/s3test"
)

// TestMain removes the butler binary the end-to-end tests build once per
// process, and stops the PostgreSQL and S3 servers if a test started them.
func TestMain(m *testing.M) {
	defer repotest.RemoveBinary()
	defer pgtest.Start()()
	defer s3test.Start()()
	m.Run()
}
