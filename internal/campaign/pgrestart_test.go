package campaign

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/rawtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
)

// TestPostgresRestart restarts the PostgreSQL server (fast: SIGINT; and
// immediate: SIGQUIT, crash recovery) while `butler ingest-raws` or a put
// loop runs against it. The command completes (a lost connection is
// retried) or fails with an error, never hangs; the repository then
// verifies clean or is repaired to clean, and a rerun completes it exactly.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("fault campaign: not with -short")
	}
	pgtest.Admin(t)
	bin := repotest.Binary(t)
	src := t.TempDir()
	raws := rawtest.Write(t, src, "LSSTCam", 8, 20)
	type workload struct {
		name    string
		newRepo func(t *testing.T) string
		command func(root string) *exec.Cmd
		check   func(t *testing.T, root string)
	}
	loads := []workload{
		{"ingest-raws",
			func(t *testing.T) string {
				root := filepath.Join(t.TempDir(), "repo")
				repotest.MustRun(t, append(append([]string{"create"}, seedFor(t, pgtest.Postgres, nil)...), root)...)
				repotest.MustRun(t, "register-instrument", root, "lsst.obs.lsst.LsstCam")
				return root
			},
			func(root string) *exec.Cmd {
				return exec.Command(bin, "ingest-raws", "--transfer", "copy", "--batch-size", "10", root, src)
			},
			func(t *testing.T, root string) {
				out := repotest.MustRun(t, "query-datasets", root, "raw", "--collections", "LSSTCam/raw/all", "--format", "csv").Stdout
				if n := strings.Count(strings.TrimSpace(out), "\n"); n != len(raws) {
					t.Errorf("%d raws, want %d", n, len(raws))
				}
			}},
		{"put loop",
			func(t *testing.T) string { return putLoopRepo(t, seedFor(t, pgtest.Postgres, nil)) },
			putLoopCmd,
			func(t *testing.T, root string) {
				if n := putLoopCheck(t, root); n != loopN {
					t.Errorf("%d datasets, want %d", n, loopN)
				}
			}},
	}
	var total tally
	for _, l := range loads {
		for _, how := range []pgtest.Shutdown{pgtest.Fast, pgtest.Immediate} {
			name := l.name + "/" + map[pgtest.Shutdown]string{pgtest.Fast: "fast", pgtest.Immediate: "immediate"}[how]
			t.Run(name, func(t *testing.T) {
				root := l.newRepo(t)
				cmd := l.command(root)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				// Mid-run: once the first files are in the datastore.
				for deadline := time.Now().Add(time.Minute); len(repotest.DatastoreFiles(t, root)) < 3 && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
				pgtest.Restart(t, how)
				total.kills++
				select {
				case err := <-done:
					t.Logf("across the restart the command ended with %v\n%s", err, lastLines(out.String(), 3))
					if strings.Contains(out.String(), "looks like a bug") || strings.Contains(out.String(), "panic") {
						t.Errorf("the command failed unclassified across the restart:\n%s", out.String())
					}
				case <-time.After(3 * time.Minute):
					_ = cmd.Process.Signal(os.Kill)
					<-done
					t.Fatalf("the command hung across the restart:\n%s", out.String())
				}
				afterKill(t, root, &total)
				if out, err := l.command(root).CombinedOutput(); err != nil {
					t.Errorf("the rerun failed: %v\n%s", err, out)
				}
				total.reruns++
				l.check(t, root)
				if left, _ := verifyJSON(t, root); len(left) > 0 {
					total.left += len(left)
					t.Errorf("after the rerun: %v", left)
				}
			})
		}
	}
	t.Logf("TALLY PostgreSQL restarts: %s", total)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
