package butler_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/internal/testutil/repotest"
	"github.com/gobutler/butler/timespan"
)

// forEachDialectUniverse is forEachDialect with the destination made for an
// embedded universe version (0: the default).
func forEachDialectUniverse(t *testing.T, version int, fn func(t *testing.T, root string, b *butler.Butler)) {
	dimCfg := ""
	if version > 0 {
		dimCfg = filepath.Join(repotest.ModuleRoot(t), "dimensions", "universes", fmt.Sprintf("daf_butler_universe%d.yaml", version))
	}
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		root, b := repotest.NewOn(t, dialect, butler.CreateOptions{DimensionConfig: dimCfg})
		fn(t, root, b)
	})
}

// openCorpusRegistry opens a Python-made corpus registry read-only.
func openCorpusRegistry(t *testing.T, dir string) *butler.Butler {
	t.Helper()
	b, err := butler.Open(t.Context(), dir, butler.OpenOptions{})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// rawRefs lists the raw datasets of a repository (the datasets whose files
// the corpus ships).
func rawRefs(t *testing.T, b *butler.Butler) []dataset.Ref {
	t.Helper()
	refs := queryRefs(t, b, butler.DatasetSearch{Types: []string{"raw"}, Collections: []string{"*"}})
	sort.Slice(refs, func(i, j int) bool { return refs[i].ID.String() < refs[j].ID.String() })
	return refs
}

func readAll(t *testing.T, b *butler.Butler, ref dataset.Ref) []byte {
	t.Helper()
	rc, err := b.Open(t.Context(), ref)
	if err != nil {
		t.Fatalf("open %s: %v", ref.ID, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTransferFrom_CorpusAcrossUniverses transfers the raws of every
// Python-made corpus registry (universes 1 and 7) into new repositories
// (universe 8) on both dialects, in batches smaller than the refs: dataset IDs,
// data IDs and file bytes are kept; every record field both universes have is
// copied as it is; exposure.group comes from universe 1's group_name, and
// day_obs and group records are made for them (#12.2).
func TestTransferFrom_CorpusAcrossUniverses(t *testing.T) {
	for _, dir := range corpusRegistries(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			src := openCorpusRegistry(t, dir)
			refs := rawRefs(t, src)
			if len(refs) == 0 {
				t.Fatal("no raw datasets in the source")
			}
			forEachDialectUniverse(t, 0, func(t *testing.T, root string, dst *butler.Butler) {
				ctx := t.Context()
				if dst.Universe.Version == src.Universe.Version {
					t.Fatalf("destination universe %d = source universe: nothing to migrate", dst.Universe.Version)
				}
				var warnings []string
				res, err := dst.TransferFrom(ctx, src, refs, butler.TransferOptions{
					RegisterDatasetTypes: true, TransferDimensions: true, BatchSize: 2,
					Warn: func(msg string) { warnings = append(warnings, msg) },
				})
				if err != nil || res != (butler.TransferResult{Transferred: len(refs)}) {
					t.Fatalf("TransferFrom(universe %d → %d) = %+v, %v; want %d transferred", src.Universe.Version, dst.Universe.Version, res, err, len(refs))
				}
				if len(warnings) > 0 {
					t.Errorf("warnings %q; the LSST instruments' observing-day offset is known", warnings)
				}
				got := rawRefs(t, dst)
				if len(got) != len(refs) {
					t.Fatalf("destination has %d raws, want %d", len(got), len(refs))
				}
				for i, ref := range refs {
					g := got[i]
					if g.ID != ref.ID || g.Run != ref.Run {
						t.Errorf("raw %d: %s in %s, want %s in %s", i, g.ID, g.Run, ref.ID, ref.Run)
						continue
					}
					for _, d := range ref.Type.Dimensions.Required {
						if fmt.Sprint(g.DataID[d.Name]) != fmt.Sprint(ref.DataID[d.Name]) {
							t.Errorf("raw %s: %s = %v, want %v", ref.ID, d.Name, g.DataID[d.Name], ref.DataID[d.Name])
						}
					}
					if a, b := readAll(t, dst, g), readAll(t, src, ref); string(a) != string(b) || len(a) == 0 {
						t.Errorf("raw %s: %d bytes in the destination differ from the source's %d", ref.ID, len(a), len(b))
					}
				}
				checkMigratedRecords(t, ctx, src, dst)
				repotest.CheckConsistent(t, dst)
				// Again, with the dataset types the destination now has (the
				// source's, migrated, must equal them): everything is skipped.
				res, err = dst.TransferFrom(ctx, src, refs, butler.TransferOptions{TransferDimensions: true})
				if err != nil || res != (butler.TransferResult{Skipped: len(refs)}) {
					t.Errorf("second TransferFrom = %+v, %v; want all %d skipped", res, err, len(refs))
				}
			})
		})
	}
}

// checkMigratedRecords compares every destination record with the source's:
// fields both universes have are equal; the migrated ones are spot-checked.
func checkMigratedRecords(t *testing.T, ctx context.Context, src, dst *butler.Butler) {
	t.Helper()
	counts := map[string]int{}
	for _, e := range dst.Universe.Elements {
		if !e.HasTable() {
			continue
		}
		recs, err := dst.Records(ctx, e.Name, nil)
		if err != nil {
			t.Fatalf("records of %s: %v", e.Name, err)
		}
		counts[e.Name] = len(recs)
		se, inSrc := src.Universe.Element(e.Name)
		for _, rec := range recs {
			if !inSrc {
				continue
			}
			old, err := src.Records(ctx, e.Name, rec.DataID())
			if err != nil || len(old) != 1 {
				t.Errorf("source %s record %s: %d found, %v", e.Name, rec.DataID(), len(old), err)
				continue
			}
			for k, v := range old[0].Values {
				if !e.HasField(k) {
					continue
				}
				if fmt.Sprint(rec.Values[k]) != fmt.Sprint(v) {
					t.Errorf("%s %s field %s = %v, source has %v", e.Name, rec.DataID(), k, rec.Values[k], v)
				}
			}
			if e.Name != "exposure" {
				continue
			}
			// Spot checks of the migrated fields.
			want := old[0].Values["group"]
			if !se.HasField("group") {
				want = old[0].Values["group_name"]
			}
			if rec.Values["group"] == nil || fmt.Sprint(rec.Values["group"]) != fmt.Sprint(want) {
				t.Errorf("exposure %s group = %v, want the source's %v", rec.DataID(), rec.Values["group"], want)
			}
			inst := rec.Values["instrument"]
			if g, err := dst.Records(ctx, "group", dimensions.DataID{"instrument": inst, "group": rec.Values["group"]}); err != nil || len(g) != 1 {
				t.Errorf("group record of exposure %s: %d, %v; want 1", rec.DataID(), len(g), err)
			}
			day := rec.Values["day_obs"].(int64)
			d, err := dst.Records(ctx, "day_obs", dimensions.DataID{"instrument": inst, "day_obs": day})
			if err != nil || len(d) != 1 {
				t.Errorf("day_obs record of exposure %s: %d, %v; want 1", rec.DataID(), len(d), err)
				continue
			}
			if _, ok := src.Universe.Element("day_obs"); ok {
				continue // the source's own day_obs record, compared above
			}
			// Made by the migration, with the LSST cameras' 12 h offset.
			ts, _ := d[0].Values["timespan"].(timespan.Timespan)
			midnight := time.Date(int(day/10000), time.Month(day/100%100), int(day%100), 0, 0, 0, 0, time.UTC).UnixNano()
			if want := timespan.New(midnight+12*3600e9, midnight+36*3600e9); ts != want {
				t.Errorf("day_obs %d timespan = %v, want %v", day, ts, want)
			}
			if ets, _ := rec.Values["timespan"].(timespan.Timespan); !ts.Contains(ets) {
				t.Errorf("exposure %s timespan %v is not within its day_obs %v", rec.DataID(), ets, ts)
			}
		}
	}
	for _, el := range []string{"instrument", "detector", "physical_filter", "exposure", "group", "day_obs"} {
		if counts[el] == 0 {
			t.Errorf("destination has no %s records", el)
		}
	}
}

// repoSnapshot renders what a repository holds: record counts per element,
// collections, dataset types, datasets and datastore files.
func repoSnapshot(t *testing.T, root string, b *butler.Butler) string {
	t.Helper()
	ctx := t.Context()
	var sb strings.Builder
	for _, e := range b.Universe.Elements {
		if !e.HasTable() {
			continue
		}
		recs, err := b.Records(ctx, e.Name, nil)
		if err != nil {
			t.Fatalf("records of %s: %v", e.Name, err)
		}
		fmt.Fprintf(&sb, "%s=%d ", e.Name, len(recs))
	}
	cols, err := b.Collections(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		fmt.Fprintf(&sb, "\ncollection %s %v", c.Name, c.Type)
	}
	types, err := b.DatasetTypes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ty := range types {
		fmt.Fprintf(&sb, "\ntype %s", ty)
	}
	var ids []string
	for _, r := range queryAll(t, b) {
		ids = append(ids, r.ID.String())
	}
	slices.Sort(ids)
	fmt.Fprintf(&sb, "\ndatasets %v\nfiles %v\n", ids, repotest.DatastoreFiles(t, root))
	return sb.String()
}

// TestTransferFrom_NewerUniverseRefused: the universe-7 corpus registry's
// exposure (group, day_obs records, can_see_sky...) has no place in a
// universe-1 repository, so the transfer (and its dry run) fails before
// anything is written, naming the elements and fields; the destination
// holds exactly what it held (#12.2).
func TestTransferFrom_NewerUniverseRefused(t *testing.T) {
	corpus := corpusRoot(t)
	older := openCorpusRegistry(t, filepath.Join(corpus, "raws", "lsstCam"))
	newer := openCorpusRegistry(t, filepath.Join(corpus, "raws", "lsstCamSim"))
	if older.Universe.Version != 1 || newer.Universe.Version != 7 {
		t.Fatalf("corpus universes %d and %d, want 1 and 7", older.Universe.Version, newer.Universe.Version)
	}
	forEachDialectUniverse(t, 1, func(t *testing.T, root string, dst *butler.Butler) {
		ctx := t.Context()
		if dst.Universe.Version != 1 {
			t.Fatalf("destination universe %d, want 1", dst.Universe.Version)
		}
		// Same universe: nothing to migrate; this gives the destination content.
		opts := butler.TransferOptions{RegisterDatasetTypes: true, TransferDimensions: true}
		if _, err := dst.TransferFrom(ctx, older, rawRefs(t, older), opts); err != nil {
			t.Fatalf("TransferFrom(universe 1 → 1): %v", err)
		}
		before := repoSnapshot(t, root, dst)
		refs := rawRefs(t, newer)
		for _, dry := range []bool{true, false} {
			o := opts
			o.DryRun = dry
			_, err := dst.TransferFrom(ctx, newer, refs, o)
			if err == nil {
				t.Fatalf("TransferFrom(universe 7 → 1, dry run %v) succeeded", dry)
			}
			var ue *dimensions.UnrepresentableError
			if !errors.As(err, &ue) || !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("error %v (%T), want a *dimensions.UnrepresentableError, errs.ErrInvalid", err, err)
			}
			for _, want := range []string{"universe 7", "universe 1", "exposure.group", "exposure.can_see_sky", "day_obs", "group"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
		}
		if after := repoSnapshot(t, root, dst); after != before {
			t.Errorf("destination changed by the refused transfer:\n%s\nwas\n%s", after, before)
		}
	})
}
