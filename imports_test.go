package butler_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps dependencies pointing one way (STYLE.md §1): each package
// lists the packages it must not import directly (what they import in turn is
// checked by their own entries).
func TestImports(t *testing.T) {
	const mod = "github.com/gobutler/butler"
	forbidden := map[string][]string{
		mod:                              {"/internal/cli", "/internal/ingest", "/internal/exportfile", "/internal/registry/sqldb"},
		mod + "/dataset":                 {"/internal/", "/storage"},
		mod + "/dimensions":              {"/internal/registry", "/storage"},
		mod + "/timespan":                {mod + "/"},
		mod + "/errs":                    {mod + "/"},
		mod + "/progress":                {mod + "/"},
		mod + "/storage":                 {"/internal/registry", "/internal/datastore", "/dimensions", "/dataset"},
		mod + "/storage/posix":           {"/storage/s3", "/internal/"},
		mod + "/storage/s3":              {"/storage/posix", "/internal/"},
		mod + "/internal/config":         {"/internal/registry", "/internal/datastore"},
		mod + "/internal/registry":       {"/internal/datastore", "/storage", "/internal/ingest", mod + "\x00"},
		mod + "/internal/registry/sqldb": {"/internal/registry\x00", "/dimensions", "/dataset"},
		mod + "/internal/datastore":      {"/internal/registry"},
		mod + "/internal/query":          {"/internal/registry"},
		mod + "/internal/fits":           {"/internal/registry", "/internal/datastore", "/dimensions", "/dataset"},
		mod + "/internal/obsinfo":        {"/internal/ingest", "/internal/registry"},
		mod + "/internal/instrument":     {"/internal/registry", "/internal/datastore"},
		mod + "/internal/visits":         {mod + "\x00", "/internal/registry", "/internal/datastore", "/internal/cli", "/storage"},
		mod + "/internal/ingest":         {"/internal/registry", "/internal/datastore"},
		mod + "/internal/exportfile":     {"/internal/registry", "/internal/datastore", "/internal/cli"},
		mod + "/internal/cli":            {"/internal/registry", "/internal/datastore", "/storage/posix", "/storage/s3"},
		mod + "/internal/server":         {"/internal/registry", "/internal/datastore", "/internal/cli", "/storage/posix", "/storage/s3"},
		mod + "/remote":                  {mod + "\x00", "/internal/", "/storage"},
		mod + "/internal/benchrepo":      {"/internal/cli", "/internal/registry"},
		mod + "/internal/serveload":      {"/internal/cli", "/internal/registry", "/internal/datastore"},
		mod + "/internal/pyrepr":         {mod + "/"},
		mod + "/internal/zipindex":       {mod + "\x00", "/internal/registry", "/internal/cli", "/internal/datastore"},
		mod + "/sphgeom":                 {mod + "\x00", "/internal/", "/dimensions", "/dataset", "/storage"},
		mod + "/storage/faulty":          {"/internal/", "/dimensions", "/dataset"},
		mod + "/storage/storagetest":     {"/internal/", "/dimensions", "/dataset"},
		mod + "/internal/rawgen":         {mod + "\x00", "/internal/registry", "/internal/datastore", "/internal/cli"},
		mod + "/internal/plot":           {mod + "/"}, // draws; knows nothing of butlers
		mod + "/internal/interop":        {},          // tests only: they drive the real binary and the Python butler
		mod + "/internal/campaign":       {},          // tests only: kill -9 campaigns against the real binary
		mod + "/internal/camgeom":        {mod + "\x00", "/internal/registry", "/internal/cli", "/internal/datastore", "/storage"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, deps := fields[0], fields[1:]
		bans, ok := forbidden[pkg]
		if !ok {
			// Every non-test, non-command package states its rules, so a new
			// package cannot slip past this test.
			if !strings.Contains(pkg, "/cmd/") && !strings.Contains(pkg, "/internal/testutil") && !strings.HasSuffix(pkg, "/gen") {
				t.Errorf("package %s has no entry in TestImports' rules", pkg)
			}
			continue
		}
		for _, dep := range deps {
			for _, ban := range bans {
				full := ban
				if strings.HasPrefix(ban, "/") {
					full = mod + ban
				}
				// A trailing NUL means "exactly this package", not its subpackages.
				if exact, found := strings.CutSuffix(full, "\x00"); found {
					if dep == exact {
						t.Errorf("%s imports %s", pkg, dep)
					}
					continue
				}
				if dep == full || strings.HasPrefix(dep, strings.TrimSuffix(full, "/")+"/") || (strings.HasSuffix(full, "/") && strings.HasPrefix(dep, full)) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
