package butler_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/storage"
	"github.com/gobutler/butler/storage/faulty"
	"github.com/gobutler/butler/storage/posix"
	"github.com/google/go-cmp/cmp"
)

const inst = "Dummy"

// newRepo makes a repository with an instrument of 20 detectors and two dataset
// types: "dict" (StructuredDataDict, YAML) and "meta" (TaskMetadata, JSON), both
// with instrument+detector data IDs.
func newRepo(t testing.TB) (string, *butler.Butler) {
	t.Helper()
	root, b := repotest.New(t)
	repotest.AddInstrument(t, b, inst, 20)
	for _, dt := range []struct{ name, sc string }{{"dict", "StructuredDataDict"}, {"meta", "TaskMetadata"}} {
		if _, err := b.RegisterDatasetType(t.Context(), dt.name, dt.sc, []string{"instrument", "detector"}, false); err != nil {
			t.Fatalf("register dataset type %s: %v", dt.name, err)
		}
	}
	return root, b
}

func det(d int) dimensions.DataID { return dimensions.DataID{"instrument": inst, "detector": d} }

// mustRun registers RUN collections.
func mustRun(t testing.TB, b *butler.Butler, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := b.RegisterRun(t.Context(), n, ""); err != nil {
			t.Fatalf("RegisterRun(%q): %v", n, err)
		}
	}
}

func mustPut(t testing.TB, b *butler.Butler, data, typ string, id dimensions.DataID, run string) dataset.Ref {
	t.Helper()
	ref, err := b.Put(t.Context(), []byte(data), typ, id, run)
	if err != nil {
		t.Fatalf("Put(%s %v in %s): %v", typ, id, run, err)
	}
	return ref
}

func mustChain(t testing.TB, b *butler.Butler, parent string, children ...string) {
	t.Helper()
	if _, err := b.ChainCollections(t.Context(), parent, children, butler.ChainOptions{}); err != nil {
		t.Fatalf("ChainCollections(%s, %v): %v", parent, children, err)
	}
}

func countDatasets(t testing.TB, b *butler.Butler, collections ...string) int {
	t.Helper()
	if len(collections) == 0 {
		collections = []string{"*"}
	}
	n := 0
	err := b.QueryDatasets(t.Context(), butler.DatasetSearch{Collections: collections}, func(dataset.Ref) error {
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("QueryDatasets(%v): %v", collections, err)
	}
	return n
}

// TestPut_NewRun puts into a run that does not exist yet: Put registers it.
func TestPut_NewRun(t *testing.T) {
	_, b := newRepo(t)
	ref, err := b.Put(t.Context(), []byte("a: 1\n"), "dict", det(1), "fresh/run")
	if err != nil {
		t.Fatalf("Put into a new run: %v", err)
	}
	c, err := b.Collection(t.Context(), "fresh/run")
	if err != nil || c.Type != dataset.Run {
		t.Fatalf("Collection(fresh/run) = %v, %v; want a RUN", c, err)
	}
	if ref.Run != "fresh/run" {
		t.Errorf("ref.Run = %q, want fresh/run", ref.Run)
	}
}

func TestPutGet_RoundTrip(t *testing.T) {
	_, b := newRepo(t)
	mustRun(t, b, "run1")
	ctx := t.Context()
	want := []byte("a: 1\nb: [1, 2]\n")
	ref, err := b.Put(ctx, want, "dict", det(3), "run1")
	if err != nil {
		t.Fatal(err)
	}
	got, gotRef, err := b.Get(ctx, "dict", dimensions.DataID{"instrument": inst, "detector": "3"}, []string{"run1"})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Get = %q, want %q", got, want)
	}
	if gotRef.ID != ref.ID {
		t.Errorf("Get ref ID = %s, want %s", gotRef.ID, ref.ID)
	}
	u, err := b.URI(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	pu, _ := url.Parse(u)
	if !strings.HasPrefix(pu.Path, b.Root+"/run1/dict/") || !strings.HasSuffix(pu.Path, ".yaml") {
		t.Errorf("URI = %s, want a .yaml file under %s/run1/dict/", u, b.Root)
	}
	repotest.CheckConsistent(t, b)
}

func TestPutValueGetValue(t *testing.T) {
	type payload struct {
		Name   string         `json:"name" yaml:"name"`
		Values []int          `json:"values" yaml:"values"`
		Nested map[string]any `json:"nested" yaml:"nested"`
	}
	tests := []struct {
		typ, ext string
	}{
		{"meta", ".json"},
		{"dict", ".yaml"},
	}
	_, b := newRepo(t)
	mustRun(t, b, "vals")
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			ctx := t.Context()
			in := payload{Name: "x", Values: []int{1, 2, 3}, Nested: map[string]any{"k": "v"}}
			ref, err := b.PutValue(ctx, in, tt.typ, det(0), "vals")
			if err != nil {
				t.Fatalf("PutValue: %v", err)
			}
			u, err := b.URI(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Ext(u) != tt.ext {
				t.Errorf("file %s, want extension %s", u, tt.ext)
			}
			var out payload
			if _, err := b.GetValue(ctx, &out, tt.typ, det(0), []string{"vals"}); err != nil {
				t.Fatalf("GetValue: %v", err)
			}
			if d := cmp.Diff(in, out); d != "" {
				t.Errorf("GetValue differs (-put +got):\n%s", d)
			}
		})
	}
}

func TestPut_Errors(t *testing.T) {
	_, b := newRepo(t)
	mustRun(t, b, "run1")
	if _, err := b.RegisterCollection(t.Context(), "tag", dataset.Tagged, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		typ     string
		id      dimensions.DataID
		run     string
		wantErr error
		wantMsg string // a substring naming what was wrong
	}{
		{"unknown dataset type", "nosuch", det(1), "run1", errs.ErrNotFound, "nosuch"},
		{"bad data ID key", "dict", dimensions.DataID{"instrument": inst, "detector": 1, "visitt": 2}, "run1", errs.ErrInvalid, "visitt"},
		{"missing data ID key", "dict", dimensions.DataID{"instrument": inst}, "run1", errs.ErrInvalid, "detector"},
		{"unknown detector", "dict", det(999), "run1", errs.ErrNotFound, "999"},
		{"run is TAGGED", "dict", det(1), "tag", errs.ErrInvalid, "tag"},
		{"run name too long", "dict", det(1), strings.Repeat("r", 65), errs.ErrInvalid, strings.Repeat("r", 65)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Put(t.Context(), []byte("x: 1\n"), tt.typ, tt.id, tt.run)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Put error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Put error %q does not name %q", err, tt.wantMsg)
			}
		})
	}
	if n := countDatasets(t, b); n != 0 {
		t.Errorf("%d datasets after failed puts, want 0", n)
	}
	if files := repotest.DatastoreFiles(t, b.Root); len(files) != 0 {
		t.Errorf("files after failed puts: %v", files)
	}
}

func TestPut_ReadOnly(t *testing.T) {
	root, _ := newRepo(t)
	ro, err := butler.Open(t.Context(), root, butler.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Put(t.Context(), []byte("x"), "dict", det(1), "run"); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("Put on a read-only butler: %v, want ErrReadOnly", err)
	}
	if _, err := ro.RegisterRun(t.Context(), "run", ""); !errors.Is(err, errs.ErrReadOnly) {
		t.Errorf("RegisterRun on a read-only butler: %v, want ErrReadOnly", err)
	}
}

func TestPut_DuplicateKeepsFirst(t *testing.T) {
	_, b := newRepo(t)
	mustRun(t, b, "run1")
	ctx := t.Context()
	first := mustPut(t, b, "first: 1\n", "dict", det(2), "run1")
	before := repotest.DatastoreFiles(t, b.Root)
	_, err := b.Put(ctx, []byte("second: 2\n"), "dict", det(2), "run1")
	if !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("second Put error = %v, want ErrConflict", err)
	}
	got, ref, err := b.Get(ctx, "dict", det(2), []string{"run1"})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "first: 1\n" || ref.ID != first.ID {
		t.Errorf("after duplicate put: Get = %q (id %s), want the first dataset %q (id %s)", got, ref.ID, "first: 1\n", first.ID)
	}
	if after := repotest.DatastoreFiles(t, b.Root); !slices.Equal(before, after) {
		t.Errorf("files changed by a refused put: %v, then %v", before, after)
	}
	if n := countDatasets(t, b); n != 1 {
		t.Errorf("%d datasets, want 1", n)
	}
}

// TestFind_NestedChains checks ordered find-first search through chains of chains.
func TestFind_NestedChains(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "r1", "r2", "r3")
	mustPut(t, b, "r1: 1\n", "dict", det(1), "r1")
	mustPut(t, b, "r3: 1\n", "dict", det(1), "r3")
	mustPut(t, b, "r2: 2\n", "dict", det(2), "r2")
	mustPut(t, b, "r1: 3\n", "dict", det(3), "r1")
	mustPut(t, b, "r3: 3\n", "dict", det(3), "r3")
	if _, err := b.RegisterCollection(ctx, "tag", dataset.Tagged, ""); err != nil {
		t.Fatal(err)
	}
	// tag holds r1's detector-3 dataset; it comes first in "outer".
	ref3, err := b.Find(ctx, "dict", det(3), []string{"r1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Associate(ctx, "tag", []dataset.Ref{ref3}); err != nil {
		t.Fatal(err)
	}
	mustChain(t, b, "inner", "r2", "r3")
	mustChain(t, b, "outer", "tag", "inner", "r1")
	mustChain(t, b, "top", "outer")

	flat, err := b.Flatten(ctx, []string{"top"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"tag", "r2", "r3", "r1"}; !slices.Equal(flat, want) {
		t.Errorf("Flatten(top) = %v, want %v", flat, want)
	}
	tests := []struct {
		name        string
		collections []string
		detector    int
		want        string // content; "" means not found
	}{
		{"chain order beats run order", []string{"top"}, 1, "r3: 1\n"},
		{"only in one run", []string{"top"}, 2, "r2: 2\n"},
		{"tagged first", []string{"top"}, 3, "r1: 3\n"},
		{"explicit order", []string{"r1", "inner"}, 1, "r1: 1\n"},
		{"chain then run", []string{"inner", "r1"}, 3, "r3: 3\n"},
		{"not in searched", []string{"r1"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := b.Get(ctx, "dict", det(tt.detector), tt.collections)
			if tt.want == "" {
				if !errors.Is(err, errs.ErrNotFound) {
					t.Errorf("Get(%v) error = %v, want ErrNotFound", tt.collections, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get(%v): %v", tt.collections, err)
			}
			if string(got) != tt.want {
				t.Errorf("Get(%v) = %q, want %q", tt.collections, got, tt.want)
			}
		})
	}
	// Reordering the chain changes the winner.
	mustChain(t, b, "outer", "r1", "inner")
	got, _, err := b.Get(ctx, "dict", det(1), []string{"top"})
	if err != nil || string(got) != "r1: 1\n" {
		t.Errorf("after reordering, Get(top) = %q, %v; want r1's", got, err)
	}
	// Find-first queries agree with Get.
	var runs []string
	err = b.QueryDatasets(ctx, butler.DatasetSearch{Types: []string{"dict"}, Collections: []string{"top"}, FindFirst: true}, func(r dataset.Ref) error {
		runs = append(runs, fmt.Sprintf("%v:%s", r.DataID["detector"], r.Run))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(runs)
	if want := []string{"1:r1", "2:r2", "3:r1"}; !slices.Equal(runs, want) {
		t.Errorf("find-first query = %v, want %v", runs, want)
	}
	if _, err := b.Find(ctx, "dict", det(1), nil); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Find with no collections: %v, want ErrInvalid", err)
	}
	if _, err := b.Find(ctx, "dict", det(1), []string{"nosuch"}); !errors.Is(err, errs.ErrNotFound) || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("Find in a missing collection: %v, want ErrNotFound naming it", err)
	}
}

func TestChain_Cycles(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "run")
	mustChain(t, b, "a", "run")
	mustChain(t, b, "b", "a")
	mustChain(t, b, "c", "b")
	tests := []struct {
		name     string
		parent   string
		children []string
	}{
		{"self", "a", []string{"a"}},
		{"two", "a", []string{"b"}},
		{"three", "a", []string{"run", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.ChainCollections(ctx, tt.parent, tt.children, butler.ChainOptions{})
			if !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("ChainCollections(%s, %v) = %v, want a cycle error (ErrInvalid)", tt.parent, tt.children, err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), "cycle") {
				t.Errorf("error %q does not say cycle", err)
			}
			kids, err := b.Chain(ctx, "a")
			if err != nil || !slices.Equal(kids, []string{"run"}) {
				t.Errorf("after refused edit, chain a = %v, %v; want [run]", kids, err)
			}
		})
	}
	// Prepending or extending into a cycle is refused too.
	if _, err := b.ChainCollections(ctx, "a", []string{"c"}, butler.ChainOptions{Mode: butler.ChainExtend}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("extend a with c: %v, want cycle error", err)
	}
	if _, err := b.Flatten(ctx, []string{"c"}); err != nil {
		t.Errorf("Flatten(c) after refused cycles: %v", err)
	}
}

func TestChain_Modes(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "a", "b", "c", "d")
	mustChain(t, b, "sub", "c", "d")
	tests := []struct {
		name     string
		start    []string
		children []string
		opts     butler.ChainOptions
		want     []string
		wantErr  error
	}{
		{"redefine", []string{"a"}, []string{"b", "c"}, butler.ChainOptions{}, []string{"b", "c"}, nil},
		{"extend", []string{"a", "b"}, []string{"c", "a"}, butler.ChainOptions{Mode: butler.ChainExtend}, []string{"b", "c", "a"}, nil},
		{"prepend", []string{"a", "b"}, []string{"c", "b"}, butler.ChainOptions{Mode: butler.ChainPrepend}, []string{"c", "b", "a"}, nil},
		{"remove", []string{"a", "b", "c"}, []string{"b"}, butler.ChainOptions{Mode: butler.ChainRemove}, []string{"a", "c"}, nil},
		{"remove missing", []string{"a"}, []string{"b"}, butler.ChainOptions{Mode: butler.ChainRemove}, nil, errs.ErrNotFound},
		{"pop default", []string{"a", "b", "c"}, nil, butler.ChainOptions{Mode: butler.ChainPop}, []string{"b", "c"}, nil},
		{"pop negative", []string{"a", "b", "c"}, nil, butler.ChainOptions{Mode: butler.ChainPop, Pop: []int{-1}}, []string{"a", "b"}, nil},
		{"pop two", []string{"a", "b", "c"}, nil, butler.ChainOptions{Mode: butler.ChainPop, Pop: []int{0, 2}}, []string{"b"}, nil},
		{"pop out of range", []string{"a"}, nil, butler.ChainOptions{Mode: butler.ChainPop, Pop: []int{3}}, nil, errs.ErrInvalid},
		{"flatten", []string{"a"}, []string{"a", "sub"}, butler.ChainOptions{Flatten: true}, []string{"a", "c", "d"}, nil},
		{"no flatten", []string{"a"}, []string{"a", "sub"}, butler.ChainOptions{}, []string{"a", "sub"}, nil},
		{"missing child", []string{"a"}, []string{"nosuch"}, butler.ChainOptions{}, nil, errs.ErrNotFound},
		{"bad mode", []string{"a"}, []string{"b"}, butler.ChainOptions{Mode: "sideways"}, nil, errs.ErrInvalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := fmt.Sprintf("chain%d", i)
			mustChain(t, b, parent, tt.start...)
			got, err := b.ChainCollections(ctx, parent, tt.children, tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ChainCollections = %v, %v; want error %v", got, err, tt.wantErr)
				}
				if kids, _ := b.Chain(ctx, parent); !slices.Equal(kids, tt.start) {
					t.Errorf("after a refused edit the chain is %v, want %v", kids, tt.start)
				}
				return
			}
			if err != nil {
				t.Fatalf("ChainCollections: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ChainCollections = %v, want %v", got, tt.want)
			}
			if kids, _ := b.Chain(ctx, parent); !slices.Equal(kids, tt.want) {
				t.Errorf("Chain = %v, want %v", kids, tt.want)
			}
		})
	}
}

func TestCollections_Names(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	ok64 := strings.Repeat("n", 63) + "4"
	bad65 := strings.Repeat("n", 65)
	tests := []struct {
		name    string
		coll    string
		typ     dataset.CollectionType
		wantErr error
	}{
		{"64 chars run", ok64, dataset.Run, nil},
		{"65 chars run", bad65, dataset.Run, errs.ErrInvalid},
		{"65 chars tagged", bad65, dataset.Tagged, errs.ErrInvalid},
		{"65 chars chain", bad65, dataset.Chained, errs.ErrInvalid},
		{"empty", "", dataset.Run, errs.ErrInvalid},
		{"slashes", "u/someone/2025-01-01T00:00:00Z", dataset.Run, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			added, err := b.RegisterCollection(ctx, tt.coll, tt.typ, "")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("RegisterCollection(%d chars) = %v, %v; want error %v", len(tt.coll), added, err, tt.wantErr)
			}
			if tt.wantErr == nil {
				c, err := b.Collection(ctx, tt.coll)
				if err != nil || c.Name != tt.coll {
					t.Errorf("Collection = %v, %v", c, err)
				}
			}
		})
	}
	// A 64-character run holds datasets; a 65-character chain parent is refused.
	mustPut(t, b, "x: 1\n", "dict", det(1), ok64)
	if _, err := b.ChainCollections(ctx, bad65, []string{ok64}, butler.ChainOptions{}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("ChainCollections with a 65-char parent: %v, want ErrInvalid", err)
	}
}

func TestCollections_ReRegister(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	types := []dataset.CollectionType{dataset.Run, dataset.Tagged, dataset.Chained, dataset.Calibration}
	for _, typ := range types {
		name := "c_" + typ.String()
		if added, err := b.RegisterCollection(ctx, name, typ, "doc"); err != nil || !added {
			t.Fatalf("RegisterCollection(%s) = %v, %v", name, added, err)
		}
		if added, err := b.RegisterCollection(ctx, name, typ, ""); err != nil || added {
			t.Errorf("re-registering %s as the same type = %v, %v; want false, nil", name, added, err)
		}
		for _, other := range types {
			if other == typ {
				continue
			}
			if _, err := b.RegisterCollection(ctx, name, other, ""); !errors.Is(err, errs.ErrConflict) {
				t.Errorf("re-registering %s as %s: %v, want ErrConflict", name, other, err)
			}
		}
		c, err := b.Collection(ctx, name)
		if err != nil || c.Type != typ {
			t.Errorf("after conflicts, %s = %v, %v", name, c, err)
		}
	}
	// Chain children and associate targets must have the right types.
	if _, err := b.ChainCollections(ctx, "c_RUN", []string{"c_TAGGED"}, butler.ChainOptions{}); !errors.Is(err, errs.ErrConflict) && !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("chaining into a RUN: %v, want a conflict", err)
	}
}

func TestAssociate(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "r1", "r2")
	a := mustPut(t, b, "a: 1\n", "dict", det(1), "r1")
	same := mustPut(t, b, "b: 1\n", "dict", det(1), "r2")
	other := mustPut(t, b, "c: 2\n", "dict", det(2), "r2")
	if err := b.Associate(ctx, "tag", []dataset.Ref{a, other}); err != nil {
		t.Fatalf("Associate: %v", err)
	}
	c, err := b.Collection(ctx, "tag")
	if err != nil || c.Type != dataset.Tagged {
		t.Fatalf("tag = %v, %v; want TAGGED", c, err)
	}
	if err := b.Associate(ctx, "tag", []dataset.Ref{a}); err != nil {
		t.Errorf("re-associating the same dataset: %v, want nil", err)
	}
	err = b.Associate(ctx, "tag", []dataset.Ref{same})
	if !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("associating a different dataset with the same data ID: %v, want ErrConflict", err)
	}
	got, ref, err := b.Get(ctx, "dict", det(1), []string{"tag"})
	if err != nil || ref.ID != a.ID || string(got) != "a: 1\n" {
		t.Errorf("Get(tag) = %q (%s), %v; want the first associated", got, ref.ID, err)
	}
	if n := countDatasets(t, b, "tag"); n != 2 {
		t.Errorf("tag holds %d datasets, want 2", n)
	}
	if err := b.Associate(ctx, "r1", []dataset.Ref{other}); !errors.Is(err, errs.ErrConflict) && !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("associating with a RUN: %v, want an error", err)
	}
	if err := b.Disassociate(ctx, "tag", []dataset.Ref{a}); err != nil {
		t.Fatal(err)
	}
	if err := b.Associate(ctx, "tag", []dataset.Ref{same}); err != nil {
		t.Errorf("associating after disassociating the conflicting one: %v", err)
	}
	// Disassociation never touches the dataset itself.
	if got, _, err := b.Get(ctx, "dict", det(1), []string{"r1"}); err != nil || string(got) != "a: 1\n" {
		t.Errorf("Get(r1) after disassociate = %q, %v", got, err)
	}
}

func TestRemoveCollections(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "run")
	ref := mustPut(t, b, "x: 1\n", "dict", det(1), "run")
	if err := b.Associate(ctx, "tag", []dataset.Ref{ref}); err != nil {
		t.Fatal(err)
	}
	mustChain(t, b, "chain", "tag", "run")
	mustChain(t, b, "top", "chain")

	if err := b.RemoveCollections(ctx, []string{"run"}, false); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("RemoveCollections(run): %v, want ErrInvalid (RUNs go through RemoveRuns)", err)
	}
	if err := b.RemoveCollections(ctx, []string{"tag"}, false); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("RemoveCollections(tag in a chain): %v, want ErrConflict", err)
	}
	if _, err := b.Collection(ctx, "tag"); err != nil {
		t.Errorf("tag gone after a refused removal: %v", err)
	}
	if err := b.RemoveCollections(ctx, []string{"tag"}, true); err != nil {
		t.Fatalf("RemoveCollections(tag, removeFromParents): %v", err)
	}
	if kids, _ := b.Chain(ctx, "chain"); !slices.Equal(kids, []string{"run"}) {
		t.Errorf("chain = %v after removing tag, want [run]", kids)
	}
	if _, err := b.Collection(ctx, "tag"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("Collection(tag) after removal: %v, want ErrNotFound", err)
	}
	if err := b.RemoveCollections(ctx, []string{"chain"}, true); err != nil {
		t.Fatal(err)
	}
	if kids, _ := b.Chain(ctx, "top"); len(kids) != 0 {
		t.Errorf("top = %v, want empty", kids)
	}
	if _, _, err := b.Get(ctx, "dict", det(1), []string{"run"}); err != nil {
		t.Errorf("dataset lost with its tag: %v", err)
	}
	if err := b.RemoveCollections(ctx, []string{"nosuch"}, false); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("RemoveCollections(nosuch): %v, want ErrNotFound", err)
	}
}

func TestRemoveRuns(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "keep", "drop")
	keep := mustPut(t, b, "k: 1\n", "dict", det(1), "keep")
	drop := mustPut(t, b, "d: 1\n", "dict", det(1), "drop")
	mustPut(t, b, "d: 2\n", "meta", det(2), "drop")
	if err := b.Associate(ctx, "tag", []dataset.Ref{drop}); err != nil {
		t.Fatal(err)
	}
	mustChain(t, b, "chain", "drop", "keep")
	dropURI, _ := b.URI(ctx, drop)
	if _, err := b.RemoveRuns(ctx, []string{"drop"}, false); !errors.Is(err, errs.ErrConflict) {
		t.Errorf("RemoveRuns of a chained run without unlinking: %v, want ErrConflict", err)
	}
	if n := countDatasets(t, b, "drop"); n != 2 {
		t.Fatalf("refused RemoveRuns changed the run: %d datasets", n)
	}
	n, err := b.RemoveRuns(ctx, []string{"drop"}, true)
	if err != nil || n != 2 {
		t.Fatalf("RemoveRuns = %d, %v; want 2, nil", n, err)
	}
	if _, err := b.Collection(ctx, "drop"); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("run still there: %v", err)
	}
	if kids, _ := b.Chain(ctx, "chain"); !slices.Equal(kids, []string{"keep"}) {
		t.Errorf("chain = %v, want [keep]", kids)
	}
	if n := countDatasets(t, b, "tag"); n != 0 {
		t.Errorf("tag still holds %d datasets of the removed run", n)
	}
	pu, _ := url.Parse(dropURI)
	if _, err := os.Stat(pu.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file %s of removed run: %v, want it gone", pu.Path, err)
	}
	if got, _, err := b.Get(ctx, "dict", det(1), []string{"chain"}); err != nil || string(got) != "k: 1\n" {
		t.Errorf("Get(chain) = %q, %v; want the kept run's", got, err)
	}
	if _, err := b.Dataset(ctx, keep.ID); err != nil {
		t.Error(err)
	}
	repotest.CheckConsistent(t, b)
}

func TestRemoveAndUnstore(t *testing.T) {
	_, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "run")
	gone := mustPut(t, b, "a: 1\n", "dict", det(1), "run")
	unstored := mustPut(t, b, "b: 1\n", "dict", det(2), "run")
	kept := mustPut(t, b, "c: 1\n", "dict", det(3), "run")
	if err := b.Remove(ctx, []dataset.Ref{gone}); err != nil {
		t.Fatal(err)
	}
	if err := b.Unstore(ctx, []dataset.Ref{unstored}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Dataset(ctx, gone.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("removed dataset: %v, want ErrNotFound", err)
	}
	if _, err := b.Dataset(ctx, unstored.ID); err != nil {
		t.Errorf("unstored dataset left the registry: %v", err)
	}
	if _, err := b.GetRef(ctx, unstored); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("GetRef(unstored): %v, want ErrNotFound", err)
	}
	if got, err := b.GetRef(ctx, kept); err != nil || string(got) != "c: 1\n" {
		t.Errorf("GetRef(kept) = %q, %v", got, err)
	}
	if files := repotest.DatastoreFiles(t, b.Root); len(files) != 1 {
		t.Errorf("files = %v, want only the kept dataset's", files)
	}
	repotest.CheckConsistent(t, b)
}

// faultyStorage returns a mux whose POSIX backends are wrapped with inj.
func faultyStorage(inj faulty.Injector) *storage.Mux {
	m := &storage.Mux{}
	m.Register(posix.Scheme, func(ctx context.Context, u *url.URL) (storage.Backend, error) {
		be, err := posix.OpenURL(ctx, u)
		if err != nil {
			return nil, err
		}
		return faulty.Wrap(be, inj), nil
	})
	return m
}

// TestPut_FailedWrite: when the file cannot be written, nothing reaches the registry.
func TestPut_FailedWrite(t *testing.T) {
	for _, after := range []bool{false, true} {
		t.Run(fmt.Sprintf("after=%v", after), func(t *testing.T) {
			root, b := newRepo(t)
			mustRun(t, b, "run")
			ctx := t.Context()
			for n := 0; ; n++ {
				inj := faulty.NthWrite(n)
				inj.AfterWrite = after
				fb, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(inj)})
				if err != nil {
					t.Fatal(err)
				}
				_, err = fb.Put(ctx, []byte("x: 1\n"), "dict", det(1), "run")
				fb.Close()
				if !inj.Fired() {
					if err != nil {
						t.Fatalf("Put with no fault fired: %v", err)
					}
					break
				}
				if !errors.Is(err, faulty.ErrInjected) {
					t.Fatalf("Put with write %d failing: %v, want the injected error", n, err)
				}
				if _, err := b.Find(ctx, "dict", det(1), []string{"run"}); !errors.Is(err, errs.ErrNotFound) {
					t.Errorf("write %d failed, yet the dataset is registered: %v", n, err)
				}
				// A write that reports failure after landing may leave its file (the
				// issue allows "file present, no record"); one that never happened may not.
				if files := repotest.DatastoreFiles(t, root); len(files) != 0 && !after {
					t.Errorf("write %d failed, yet files are left: %v", n, files)
				}
			}
			if after {
				// The failed write's file is an orphan at the template's path; the
				// clean put wrote beside it rather than replace a file that a
				// concurrent purge may still remove (TestPut_BesideAFilePendingRemoval).
				// Verify's repair quarantines it; here it is removed by hand.
				orphan := filepath.Join(root, "run", "dict", "dict_Dummy_D0001_run.yaml")
				if err := os.Remove(orphan); err != nil {
					t.Errorf("the failed write's orphan: %v", err)
				}
			}
			repotest.CheckConsistent(t, b)
			if got, _, err := b.Get(ctx, "dict", det(1), []string{"run"}); err != nil || string(got) != "x: 1\n" {
				t.Errorf("Get after the clean put = %q, %v", got, err)
			}
		})
	}
}

// cancelAfterPut is a backend whose Put cancels the caller's context once the
// file is written, so whatever the put does next (sync, records, commit) fails.
type cancelAfterPut struct {
	storage.Backend
	cancel context.CancelFunc
}

func (c cancelAfterPut) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	err := c.Backend.Put(ctx, key, r, size)
	c.cancel()
	return err
}

// TestPut_FailedCommit: the file is written, then the records cannot be
// committed; neither the file nor a row may be left.
func TestPut_FailedCommit(t *testing.T) {
	root, b := newRepo(t)
	mustRun(t, b, "run")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	m := &storage.Mux{}
	m.Register(posix.Scheme, func(ctx context.Context, u *url.URL) (storage.Backend, error) {
		be, err := posix.OpenURL(ctx, u)
		return cancelAfterPut{Backend: be, cancel: cancel}, err
	})
	fb, err := butler.Open(t.Context(), root, butler.OpenOptions{Writeable: true, Storage: m})
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	if _, err = fb.Put(ctx, []byte("x: 1\n"), "dict", det(1), "run"); err == nil {
		t.Fatalf("Put whose context was cancelled after the file write succeeded")
	}
	t.Logf("Put with a failing commit: %v", err)
	if n := countDatasets(t, b); n != 0 {
		t.Errorf("%d datasets after a failed commit, want 0", n)
	}
	if files := repotest.DatastoreFiles(t, root); len(files) != 0 {
		t.Errorf("files left after a failed commit: %v", files)
	}
	// The repository still takes the same dataset.
	mustPut(t, b, "x: 2\n", "dict", det(1), "run")
	repotest.CheckConsistent(t, b)
}

// hook is an injector that runs fn once, just before the first Put write.
type hook struct {
	fn   func()
	done bool
}

func (h *hook) Fault(op faulty.Op, key string) (error, error) {
	if op == faulty.OpPut && !h.done {
		h.done = true
		h.fn()
	}
	return nil, nil
}

// TestPut_ConcurrentDuplicate: a second client puts the same dataset while the
// first is writing its file. Exactly one put wins, and the winner's file must
// survive the loser's failure.
func TestPut_ConcurrentDuplicate(t *testing.T) {
	root, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "run")
	h := &hook{}
	fb, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true, Storage: faultyStorage(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	var otherErr error
	h.fn = func() {
		// A registry that holds its write lock across the file write makes this
		// wait; give up quickly instead (then the first client wins).
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, otherErr = b.Put(hctx, []byte("second: 1\n"), "dict", det(1), "run")
	}
	_, firstErr := fb.Put(ctx, []byte("first: 1\n"), "dict", det(1), "run")
	if !h.done {
		t.Fatal("the hook never ran")
	}
	t.Logf("first client: %v; second client: %v", firstErr, otherErr)
	var want string
	switch {
	case firstErr == nil && otherErr == nil:
		t.Fatalf("both clients put the same dataset")
	case firstErr != nil && otherErr != nil:
		t.Fatalf("neither client put the dataset: %v; %v", firstErr, otherErr)
	case firstErr == nil:
		want = "first: 1\n"
	default:
		want = "second: 1\n"
		if !errors.Is(firstErr, errs.ErrConflict) {
			t.Errorf("losing put: %v, want ErrConflict", firstErr)
		}
	}
	got, _, err := b.Get(ctx, "dict", det(1), []string{"run"})
	if err != nil {
		t.Fatalf("the winner's dataset is unreadable after the loser failed: %v", err)
	}
	if string(got) != want {
		t.Errorf("Get = %q, want the winner's %q", got, want)
	}
	repotest.CheckConsistent(t, b)
}

const (
	childEnv   = "BUTLER_TEST_PUT_CHILD" // repo root,writer number
	childCount = 1000                    // datasets each child puts into "shared"
	dupCount   = 100                     // datasets both children put into "dup"
)

// TestPut_TwoProcesses runs two OS processes (this test binary, re-executed) that
// each put 1,000 datasets into the same SQLite repository at the same time, then
// both put the same 100 datasets: none may be lost, and of each duplicate pair
// exactly one wins with its file intact.
func TestPut_TwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("puts 2,200 datasets from two processes")
	}
	root, b := repotest.New(t)
	repotest.AddInstrument(t, b, inst, 2*childCount)
	if _, err := b.RegisterDatasetType(t.Context(), "dict", "StructuredDataDict", []string{"instrument", "detector"}, false); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var procs []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 2 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPutChild$", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d", childEnv, root, i))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		outs = append(outs, out)
	}
	for i, p := range procs {
		if err := p.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	t.Logf("two processes put %d datasets in %v", 2*(childCount+dupCount), time.Since(start))
	if n := countDatasets(t, b, "shared"); n != 2*childCount {
		t.Errorf("%d datasets after two processes put %d each, want %d", n, childCount, 2*childCount)
	}
	if n := countDatasets(t, b, "dup"); n != dupCount {
		t.Errorf("%d datasets in dup, want %d", n, dupCount)
	}
	for d := range dupCount {
		got, _, err := b.Get(t.Context(), "dict", det(d), []string{"dup"})
		if err != nil {
			t.Errorf("dup detector %d: %v", d, err)
			continue
		}
		if !strings.HasSuffix(string(got), fmt.Sprintf("\ndetector: %d\n", d)) {
			t.Errorf("dup detector %d holds %q", d, got)
		}
	}
	if files := repotest.DatastoreFiles(t, root); len(files) != 2*childCount+dupCount {
		t.Errorf("%d files, want %d", len(files), 2*childCount+dupCount)
	}
	repotest.CheckConsistent(t, b)
}

// TestPutChild is the child of TestPut_TwoProcesses; it does nothing otherwise.
func TestPutChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("only run as a child of TestPut_TwoProcesses")
	}
	root, num, _ := strings.Cut(spec, ",")
	w, _ := strconv.Atoi(num)
	ctx := t.Context()
	b, err := butler.Open(ctx, root, butler.OpenOptions{Writeable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Both children register the runs on their first put.
	for d := w * childCount; d < (w+1)*childCount; d++ {
		if _, err := b.Put(ctx, []byte(fmt.Sprintf("writer: %d\ndetector: %d\n", w, d)), "dict", det(d), "shared"); err != nil {
			t.Fatalf("put detector %d: %v", d, err)
		}
	}
	won := 0
	for d := range dupCount {
		_, err := b.Put(ctx, []byte(fmt.Sprintf("writer: %d\ndetector: %d\n", w, d)), "dict", det(d), "dup")
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errs.ErrConflict):
			t.Fatalf("put duplicate detector %d: %v, want success or ErrConflict", d, err)
		}
	}
	t.Logf("writer %d won %d of %d duplicates", w, won, dupCount)
}

func TestCreate_Existing(t *testing.T) {
	root, b := newRepo(t)
	mustRun(t, b, "run")
	mustPut(t, b, "x: 1\n", "dict", det(1), "run")
	snap := snapshot(t, root)
	_, err := butler.Create(t.Context(), root, butler.CreateOptions{})
	if !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("Create over an existing repository: %v, want ErrConflict", err)
	}
	if d := cmp.Diff(snap, snapshot(t, root)); d != "" {
		t.Errorf("Create over an existing repository changed files (-before +after):\n%s", d)
	}
	if _, err := butler.Create(t.Context(), "", butler.CreateOptions{}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("Create(\"\"): %v, want ErrInvalid", err)
	}
}

// snapshot maps each file under root to its size, mtime and content digest.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%d %s %x", fi.Size(), fi.ModTime().Format(time.RFC3339Nano), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCollections_TwoClients: a collection removed and another registered by a
// second client must not confuse the first (which has seen the old one).
func TestCollections_TwoClients(t *testing.T) {
	root, b := newRepo(t)
	ctx := t.Context()
	mustRun(t, b, "x")
	mustPut(t, b, "x: 1\n", "dict", det(1), "x")
	other := repotest.Open(t, root)
	if _, err := other.RemoveRuns(ctx, []string{"x"}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := other.RegisterRun(ctx, "y", ""); err != nil {
		t.Fatal(err)
	}
	ref, err := b.Put(ctx, []byte("x: 2\n"), "dict", det(2), "x")
	if err == nil && ref.Run != "x" {
		t.Errorf("Put into x returned run %q", ref.Run)
	}
	// Whatever the first client did, nothing may have landed in y.
	if n := countDatasets(t, other, "y"); n != 0 {
		t.Errorf("a put into x by a client that saw x before its removal put %d dataset(s) into y", n)
	}
	// x no longer exists, so Put registers it afresh, as for any new run.
	if err != nil {
		t.Errorf("Put into x after another client removed it: %v, want success", err)
	} else {
		if got, _, err := other.Get(ctx, "dict", det(2), []string{"x"}); err != nil || string(got) != "x: 2\n" {
			t.Errorf("the put into x succeeded but another client reads %q, %v", got, err)
		}
	}
}
