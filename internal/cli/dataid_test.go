package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/internal/testutil/corpustest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestDataIDByRecordFields: --data-id names an exposure by day_obs + seq_num,
// exposure.obs_id or its obs_id, and a detector by its full name, in put, get
// and the query commands (daf_butler's data ID rewriting); what matches no
// record, or several, fails with exit 1 and says so.
func TestDataIDByRecordFields(t *testing.T) {
	t.Parallel()
	repo := filepath.Join(t.TempDir(), "repo")
	run(t, "create", repo)
	exports := filepath.Join(corpustest.Dir(t), "daf_butler", "exports")
	run(t, "import", repo, exports, "--export-file", "lsstcam-subset.yaml")
	run(t, "register-dataset-type", repo, "exp", "StructuredDataDict", "instrument", "exposure", "detector")

	put := repotest.Cmd{Args: []string{"put", repo, "exp", "r", "-", "--data-id", "instrument=LSSTCam,day_obs=20251202,seq_num=440,detector=R02_S01"}, Stdin: "e: 440\n"}.Run(t)
	if put.Code != 0 {
		t.Fatalf("put by day_obs+seq_num and a detector name: %s", put)
	}
	got := run(t, "get", repo, "exp", "--data-id", "instrument=LSSTCam", "--data-id", "exposure.obs_id=MC_O_20251202_000440", "--data-id", "detector=10", "--collections", "r")
	if got.Stdout != "e: 440\n" {
		t.Errorf("get by exposure.obs_id = %q", got.Stdout)
	}
	got = run(t, "get", repo, "exp", "--data-id", "instrument=LSSTCam,exposure=MC_O_20251202_000440,detector=R02_S01", "--collections", "r")
	if got.Stdout != "e: 440\n" {
		t.Errorf("get by an obs_id for exposure = %q", got.Stdout)
	}
	if out := run(t, "query-datasets", repo, "exp", "--collections", "r", "--data-id", "day_obs=20251202", "--data-id", "seq_num=440").Stdout; !strings.Contains(out, "2025120200440") {
		t.Errorf("query-datasets by day_obs+seq_num printed\n%s", out)
	}
	if out := run(t, "query-data-ids", repo, "exposure", "--data-id", "seq_num=439").Stdout; !strings.Contains(out, "2025120200439") || strings.Contains(out, "2025120200440") {
		t.Errorf("query-data-ids by seq_num printed\n%s", out)
	}
	if out := run(t, "query-dimension-records", repo, "exposure", "--data-id", "exposure=MC_O_20251202_000439").Stdout; !strings.Contains(out, "MC_O_20251202_000439") || strings.Contains(out, "MC_O_20251202_000440") {
		t.Errorf("query-dimension-records by obs_id printed\n%s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", repo, "exp", "--data-id", "instrument=LSSTCam,day_obs=20251202,seq_num=3,detector=10", "--collections", "r"},
			"dimension exposure matched no records when constrained by {day_obs: 20251202, exposure.seq_num: 3, instrument: 'LSSTCam'}"},
		{[]string{"query-datasets", repo, "exp", "--collections", "r", "--data-id", "day_obs=20251202,observation_type=science"},
			"dimension exposure is not uniquely constrained to a single record by {day_obs: 20251202, exposure.observation_type: 'science'}: got 2 results"},
		{[]string{"query-data-ids", repo, "exposure", "--data-id", "seq_nm=3"},
			`"seq_nm" is neither a dimension nor a field of the records of`},
		{[]string{"query-datasets", repo, "exp", "--collections", "r", "--where", "exposure.timespan <= T'2025-12-03T08:00:00'"},
			"do not agree (timespan, datetime): use < or > (all of it before or after)"},
	} {
		res := repotest.Run(t, c.args...)
		if res.Code != 1 || !strings.Contains(res.Stderr, c.want) {
			t.Errorf("butler %s: %s\nwant exit 1 saying %q", strings.Join(c.args, " "), res, c.want)
		}
	}
}
