package server_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/server"
	"github.com/gobutler/butler/internal/testutil/pgtest"
)

// butler.Open of a server URL is the Go API over the protocol: finds, gets,
// queries (where, find-first, order, data IDs, records) answer as the
// repository opened locally; writes fail with errs.ErrReadOnly.
func TestServe_GoAPIRemote(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := t.Context()
		f := newFixture(t, dialect)
		url, _ := serve(t, f, server.Options{})
		rb, err := butler.Open(ctx, url+"/api/butler/repo/main", butler.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rb.Close()
		if !rb.IsRemote() || rb.IsWriteable() {
			t.Errorf("IsRemote %v, IsWriteable %v", rb.IsRemote(), rb.IsWriteable())
		}
		id := dimensions.DataID{"instrument": inst, "detector": 3}
		want, wantRef, err := f.b.Get(ctx, "dict", id, []string{"run/a"})
		if err != nil {
			t.Fatal(err)
		}
		got, ref, err := rb.Get(ctx, "dict", id, []string{"run/a"})
		if err != nil || string(got) != string(want) || ref.ID != wantRef.ID {
			t.Errorf("Get: %q %v %v, want %q %v", got, ref.ID, err, want, wantRef.ID)
		}
		if _, _, err := rb.Get(ctx, "dict", dimensions.DataID{"instrument": inst, "detector": 4}, []string{"run/b"}); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("Get of a missing dataset: %v, want ErrNotFound", err)
		}
		ids := func(b *butler.Butler, q func(butler.Query) butler.Query) []string {
			var out []string
			for r, err := range q(b.Query()).Datasets(ctx, "dict") {
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, r.ID.String())
			}
			return out
		}
		for name, q := range map[string]func(butler.Query) butler.Query{
			"find-first": func(q butler.Query) butler.Query { return q.Collections("chain").FindFirst(true) },
			"where": func(q butler.Query) butler.Query {
				return q.Collections("run/a").Where("detector > :d OR detector = 0", map[string]any{"d": 2})
			},
			"order": func(q butler.Query) butler.Query { return q.Collections("run/a").OrderBy("-detector").Limit(2, 1) },
		} {
			if l, r := ids(f.b, q), ids(rb, q); !slices.Equal(l, r) || len(l) == 0 {
				t.Errorf("%s: remote %v, local %v", name, r, l)
			}
		}
		var dets []any
		for d, err := range rb.Query().Where("detector IN (1..3) AND NOT detector = 2", nil).DataIDs(ctx, []string{"detector"}) {
			if err != nil {
				t.Fatal(err)
			}
			dets = append(dets, d["detector"])
		}
		if !slices.Equal(dets, []any{int64(1), int64(3)}) {
			t.Errorf("DataIDs: %v", dets)
		}
		n := 0
		for r, err := range rb.Query().DimensionRecords(ctx, "detector") {
			if err != nil || r.Element.Name != "detector" {
				t.Fatal(r, err)
			}
			n++
		}
		if n != 5 {
			t.Errorf("%d detector records, want 5", n)
		}
		if _, err := rb.Put(ctx, []byte("a: 1\n"), "dict", id, "run/c"); !errors.Is(err, errs.ErrReadOnly) {
			t.Errorf("Put: %v, want ErrReadOnly", err)
		}
		if _, err := rb.RegisterRun(ctx, "run/c", ""); !errors.Is(err, errs.ErrReadOnly) {
			t.Errorf("RegisterRun: %v, want ErrReadOnly", err)
		}
		if _, err := butler.Open(ctx, url+"/api/butler/repo/main", butler.OpenOptions{Writeable: true}); !errors.Is(err, errs.ErrReadOnly) {
			t.Errorf("Open for writing: %v, want ErrReadOnly", err)
		}
		if err := rb.Prune(ctx, []dataset.Ref{wantRef}, butler.PruneOptions{Unstore: true}); !errors.Is(err, errs.ErrReadOnly) {
			t.Errorf("Prune: %v, want ErrReadOnly", err)
		}
	})
}
