package server_test

import (
	"errors"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// Every Butler method that needs the repository's own database or files
// fails on a remote butler with errs.ErrUnsupported or errs.ErrReadOnly; none
// of them panics on the registry a remote butler does not have.
func TestServe_GoAPIRemoteLocalOnly(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t, pgtest.SQLite)
	url, _ := serve(t, f, server.Options{})
	rb, err := butler.Open(ctx, url+"/api/butler/repo/main", butler.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	id := dimensions.DataID{"instrument": inst, "detector": 3}
	rb.SetConnectionPool(4, 2) // no database: nothing to size
	rb.SetSearchCache(0)
	if err := rb.Analyze(ctx); err != nil {
		t.Errorf("Analyze: %v (nothing to analyze on a read-only butler)", err)
	}
	verify := func() error {
		for _, err := range rb.Verify(ctx, butler.VerifyOptions{}) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	for name, call := range map[string]func() error{
		"Certifications":         func() error { _, err := rb.Certifications(ctx, "calib"); return err },
		"FindAt":                 func() error { _, err := rb.FindAt(ctx, "dict", id, []string{"run/a"}, nil); return err },
		"ParentChains":           func() error { _, err := rb.ParentChains(ctx, "run/a"); return err },
		"Flatten":                func() error { _, err := rb.Flatten(ctx, []string{"chain"}); return err },
		"CollectionDatasetTypes": func() error { _, err := rb.CollectionDatasetTypes(ctx, "run/a"); return err },
		"Records":                func() error { _, err := rb.Records(ctx, "detector", nil); return err },
		"ExpandDataID":           func() error { _, _, err := rb.ExpandDataID(ctx, []string{"detector"}, id); return err },
		"ArtifactSize":           func() error { _, err := rb.ArtifactSize(ctx, butler.Artifact{FileSize: -1}); return err },
		"PresignArtifact":        func() error { _, err := rb.PresignArtifact(ctx, butler.Artifact{Path: "x"}, 0); return err },
		"Share":                  func() error { return rb.Share(ctx, "bob", butler.ShareReadOnly) },
		"PutValue":               func() error { _, err := rb.PutValue(ctx, map[string]any{"a": 1}, "dict", id, "run/c"); return err },
		"Config":                 func() error { _, err := rb.Config(); return err },
		"ValidateConfiguration":  func() error { _, err := rb.ValidateConfiguration(ctx, nil, nil); return err },
		"Verify":                 verify,
	} {
		err := call()
		if !errors.Is(err, errs.ErrUnsupported) && !errors.Is(err, errs.ErrReadOnly) {
			t.Errorf("%s on a remote butler: %v, want an unsupported or read-only error", name, err)
		}
	}
}
