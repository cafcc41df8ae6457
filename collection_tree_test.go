package butler_test

import (
	"slices"
	"testing"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/google/go-cmp/cmp"
)

// TestCollectionTree checks the tree read in a fixed number of queries
// against the one-lookup-per-collection calls (Chain, ParentChains,
// CollectionDatasetTypes) on nested chains, on both dialects, and the
// FLATTEN/NO-CHILDREN lists.
func TestCollectionTree(t *testing.T) {
	forEachDialect(t, func(t *testing.T, b *butler.Butler) {
		ctx := t.Context()
		repotest.AddInstrument(t, b, inst, 5)
		for _, dt := range []string{"dict", "meta"} {
			if _, err := b.RegisterDatasetType(ctx, dt, "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
				t.Fatal(err)
			}
		}
		mustPut(t, b, "a: 1\n", "dict", det(1), "run/b")
		mustPut(t, b, "a: 2\n", "meta", det(1), "run/a")
		mustRun(t, b, "run/empty")
		if _, err := b.RegisterCollection(ctx, "tag", dataset.Tagged, ""); err != nil {
			t.Fatal(err)
		}
		mustChain(t, b, "inner", "run/a", "tag")
		mustChain(t, b, "outer", "inner", "run/b", "run/a")
		mustChain(t, b, "other", "run/a")
		mustChain(t, b, "empty")

		tree, err := b.CollectionTree(ctx, nil, butler.CollectionTreeOptions{DatasetTypes: true, ExcludeDatasetTypes: []string{"me*"}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range tree.Matched {
			names = append(names, n.Name)
			children, parents := nodeNames(n.Children), nodeNames(n.Parents)
			var want []string
			if n.Type == dataset.Chained {
				if want, err = b.Chain(ctx, n.Name); err != nil {
					t.Fatal(err)
				}
			}
			if d := cmp.Diff(want, children); d != "" {
				t.Errorf("%s children (-Chain +tree):\n%s", n.Name, d)
			}
			if want, err = b.ParentChains(ctx, n.Name); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, parents); d != "" {
				t.Errorf("%s parents (-ParentChains +tree):\n%s", n.Name, d)
			}
			types, err := b.CollectionDatasetTypes(ctx, n.Name)
			if err != nil {
				t.Fatal(err)
			}
			types = slices.DeleteFunc(types, func(s string) bool { return s == "meta" })
			if d := cmp.Diff(append([]string{}, types...), n.DatasetTypes); d != "" {
				t.Errorf("%s dataset types (-CollectionDatasetTypes +tree):\n%s", n.Name, d)
			}
		}
		if d := cmp.Diff([]string{"empty", "inner", "other", "outer", "run/a", "run/b", "run/empty", "tag"}, names); d != "" {
			t.Errorf("matched (-want +got):\n%s", d)
		}

		for _, tc := range []struct {
			patterns []string
			types    []dataset.CollectionType
			flatten  bool
			want     []string
		}{
			// Everything: creation order; chains left out when flattened.
			{nil, nil, false, []string{"run/b", "run/a", "run/empty", "tag", "inner", "outer", "other", "empty"}},
			{nil, nil, true, []string{"run/b", "run/a", "run/empty", "tag"}},
			// Some: by name, matched chains expanded after the direct matches.
			{[]string{"outer", "run/empty"}, nil, true, []string{"run/empty", "run/a", "tag", "run/b"}},
			{[]string{"o*"}, nil, false, []string{"other", "outer"}},
			{[]string{"*"}, []dataset.CollectionType{dataset.Run}, false, []string{"run/b", "run/a", "run/empty"}},
		} {
			tree, err := b.CollectionTree(ctx, tc.patterns, butler.CollectionTreeOptions{Types: tc.types})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, nodeNames(tree.List(tc.flatten))); d != "" {
				t.Errorf("List(%v, %v, flatten %v) (-want +got):\n%s", tc.patterns, tc.types, tc.flatten, d)
			}
		}
	})
}

func nodeNames(ns []*butler.CollectionNode) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Name)
	}
	return out
}
