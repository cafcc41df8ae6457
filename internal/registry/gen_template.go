//go:build ignore

// gen_template writes sqlite_template.bin: a new SQLite registry of the
// default universe with the default datastore records table, made by
// registry.Create. Run it with `go generate ./internal/registry` after a
// change to the schema (TestSQLiteTemplate_Current says when).
package main

import (
	"context"
	"log"
	"os"
	"path/filepath"

	"github.com/gobutler/butler/internal/registry"
)

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "registry-template")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gen3.sqlite3")
	data, err := registry.BuildTemplate(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("sqlite_template.bin", registry.EncodeTemplate(data), 0o644); err != nil {
		log.Fatal(err)
	}
}
