package butler

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/camgeom"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/internal/visits"
	"github.com/gobutler/butler/progress"
	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
)

// DefineVisitsOptions are the switches of `butler define-visits` (obs_base's
// DefineVisitsTask.run and its config).
type DefineVisitsOptions struct {
	// Where restricts the exposures (a data-ID where expression over the
	// exposure dimensions), with Bind values.
	Where string
	Bind  map[string]any
	// Collections are where upstream looks for a versioned camera dataset.
	// This butler always uses the nominal embedded camera geometry, as
	// upstream does when none is found, so they are accepted and unused.
	Collections []string
	// UpdateRecords overwrites visit records that differ and rewrites the
	// detector regions of every visit (it cannot remove exposures or
	// detectors from a visit).
	UpdateRecords bool
	// Incremental allows partial multi-exposure visits to grow: a changed
	// visit record is updated, new exposures are added to its definition and
	// its detector regions are rewritten when its region changed.
	Incremental bool
	// SkipConflicting leaves visits whose stored record differs alone instead
	// of failing (no effect with UpdateRecords or Incremental).
	SkipConflicting bool
	// Prefilter drops exposures that already belong to a visit before
	// grouping (not with UpdateRecords or Incremental).
	Prefilter bool
	// CheckDetectorRegions checks that existing visits have a
	// visit_detector_region record for every detector and writes missing ones.
	CheckDetectorRegions bool
	// ConfigFile is a pex_config override file (config.FIELD = VALUE lines),
	// applied after the instrument's overrides; Config are FIELD=VALUE
	// overrides applied after it. Fields are DefineVisitsConfig's:
	// groupExposures.name, computeVisitRegions.active.padding, ...
	ConfigFile string
	Config     []string
	// BatchSize is the number of visits written per transaction
	// (DefaultVisitBatch when 0).
	BatchSize int
	// Progress, when set, counts visits written.
	Progress progress.Reporter
}

// DefineVisitsResult says what DefineVisits did (obs_base's run() struct plus
// a few counts).
type DefineVisitsResult struct {
	Instrument string
	// Algorithm is the grouping algorithm used.
	Algorithm string
	// Exposures are the on-sky exposures used; NotOnSky those ignored
	// because they have no boresight or cannot see the sky.
	Exposures, NotOnSky int
	// Visits is the number of visit definitions; the others split it.
	Visits, Skipped, New, FullyUpdated, PartiallyUpdated int
	// Filtered counts exposures dropped by Prefilter.
	Filtered int
	// DetectorRegions counts the visit_detector_region records written.
	DetectorRegions int
	Elapsed         time.Duration
}

// RegionsPerSecond is the rate detector regions were written at.
func (r DefineVisitsResult) RegionsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.DetectorRegions) / r.Elapsed.Seconds()
}

// visitRecords are the records of one visit.
type visitRecords struct {
	def        visits.Definition
	visit      dimensions.Record
	definition []dimensions.Record
	membership []dimensions.Record
	regions    []dimensions.Record
	// visitPixels and regionPixels are the common skypix pixels of the
	// visit's region and of each of regions (for their overlap rows).
	visitPixels  []uint64
	regionPixels [][]uint64
}

// DefineVisits groups the instrument's exposures into visits and writes their
// visit, visit_definition, visit_system_membership and visit_detector_region
// records (with regions from the nominal camera geometry and each exposure's
// boresight), as obs_base's DefineVisitsTask does. instrument is the registry
// name (LSSTCam) or the class name (lsst.obs.lsst.LsstCam) of a registered
// instrument. Visits are written in transactions of BatchSize visits, each
// with all its records, so an interrupted run leaves no visit without its
// regions. Re-running with the same exposures is a no-op; a stored visit that
// differs fails naming the visit, unless UpdateRecords, Incremental or
// SkipConflicting. No raw files are needed.
func (b *Butler) DefineVisits(ctx context.Context, instrument string, opts DefineVisitsOptions) (DefineVisitsResult, error) {
	start := time.Now()
	res := DefineVisitsResult{}
	if err := b.checkWriteable("define visits"); err != nil {
		return res, err
	}
	if opts.Prefilter && (opts.UpdateRecords || opts.Incremental) {
		return res, fmt.Errorf("define visits: %w: prefilter cannot be used with update-records or incremental", errs.ErrInvalid)
	}
	inst, err := b.RegisteredInstrument(ctx, instrument)
	if err != nil {
		return res, err
	}
	res.Instrument = inst
	u := b.Universe
	expElem, ok := u.Element("exposure")
	visitElem, ok2 := u.Element("visit")
	if !ok || !ok2 {
		return res, fmt.Errorf("define visits: %w: universe %d has no exposure or visit", errs.ErrUnsupported, u.Version)
	}
	cfg, err := b.visitsConfig(expElem, opts)
	if err != nil {
		return res, err
	}
	res.Algorithm = cfg.GroupExposures
	cam, err := camgeom.Load(inst)
	if err != nil {
		return res, fmt.Errorf("define visits for %s: %w", inst, err)
	}
	padding := cam.DefaultPadding
	if cfg.Padding != nil {
		padding = *cfg.Padding
	}

	// The exposures, as upstream's script selects them.
	legacyGroup := expElem.HasField("group_name")
	var exps []*visits.Exposure
	err = b.selectedExposures(ctx, inst, opts.Where, opts.Bind, func(r dimensions.Record) error {
		e := exposureOf(r, legacyGroup)
		if !e.OnSky() {
			if !cfg.IgnoreNonScienceExposures {
				return fmt.Errorf("define visits: %w: input exposure %d (%s) has observation_type %s, but is not on sky", errs.ErrInvalid, e.ID, e.ObsID, strOr(e.ObservationType, "None"))
			}
			res.NotOnSky++
			return nil
		}
		exps = append(exps, e)
		return nil
	})
	if err != nil {
		return res, err
	}
	if opts.Prefilter {
		if exps, res.Filtered, err = b.prefilterExposures(ctx, inst, exps, opts.CheckDetectorRegions); err != nil {
			return res, err
		}
	}
	res.Exposures = len(exps)
	if len(exps) == 0 {
		b.log.Info("No on-sky exposures found after filtering.")
		res.Elapsed = time.Since(start)
		return res, nil
	}

	detRecs, err := b.Records(ctx, "detector", dimensions.DataID{"instrument": inst})
	if err != nil {
		return res, err
	}
	registered := map[int64]bool{}
	for _, r := range detRecs {
		registered[asInt64(r.Values["id"])] = true
	}

	// The visit systems the algorithm uses, as upstream syncs them.
	systems := visits.Systems(cfg.GroupExposures)
	var vsRecs []dimensions.Record
	vsElem := u.MustElement("visit_system")
	for _, s := range systems {
		b.log.Info("Registering visit_system", "id", int64(s), "name", s.Name())
		vsRecs = append(vsRecs, dimensions.Record{Element: vsElem, Values: map[string]any{"instrument": inst, "id": int64(s), "name": s.Name()}})
	}
	if _, err := b.SyncRecords(ctx, "visit_system", vsRecs, false); err != nil {
		return res, fmt.Errorf("define visits: %w", err)
	}

	if opts.Incremental {
		more, err := b.missingExposures(ctx, inst, cfg.GroupExposures, legacyGroup, exps)
		if err != nil {
			return res, err
		}
		exps = append(exps, more...)
	}
	b.log.Info("Grouping exposures into visits", "exposures", len(exps), "algorithm", cfg.GroupExposures)
	defs, err := visits.Group(cfg.GroupExposures, exps, legacyGroup, func(msg string) { b.log.Warn(msg) })
	if err != nil {
		return res, fmt.Errorf("define visits: %w", err)
	}
	res.Visits = len(defs)

	// The record shapes of this universe: modern ones (visit.seq_num) have
	// visit_system_membership; older ones put one visit system on the visit
	// and its definitions.
	modern := visitElem.HasField("seq_num")
	var legacySystem *int64
	if !modern {
		s := systems[0]
		if len(systems) > 1 {
			if !slices.Contains(systems, visits.SystemOneToOne) {
				return res, fmt.Errorf("define visits: %w: several visit systems for an old universe, none of them one-to-one", errs.ErrUnsupported)
			}
			s = visits.SystemOneToOne
		}
		v := int64(s)
		legacySystem = &v
	}
	builder := &visitBuilder{u: u, inst: inst, cam: cam, padding: padding, merge: cfg.MergeExposures, registered: registered, systems: systems, legacySystem: legacySystem}
	if u.CommonSkyPix != nil {
		if builder.envelope, err = registry.SkypixEnvelope(u); err != nil {
			return res, fmt.Errorf("define visits: %w", err)
		}
	}
	// On PostgreSQL, foreign-key checks into detector and visit must be
	// planned with statistics (see registry.RefreshKeyStats); visit's come
	// after the first batch when it starts empty.
	if err := b.reg.RefreshKeyStats(ctx, "detector", "visit"); err != nil {
		return res, fmt.Errorf("define visits: %w", err)
	}
	statsAfterFirst := true

	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultVisitBatch
	}
	task := progress.OrDiscard(opts.Progress).Task("Computing regions and inserting visits", int64(len(defs)))
	defer task.Done()

	// Regions are computed in chunks of at most visitChunk visits while
	// earlier ones are written; a transaction takes chunks until it holds
	// batch visits, so that its size does not set the memory held.
	type built struct {
		recs []visitRecords
		err  error
	}
	chunk := min(batch, visitChunk)
	ch := make(chan built, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ch)
		// Chunks do not straddle batches, so that a lone writer's
		// transactions hold batch visits exactly.
		for s := 0; s < len(defs); s += chunk {
			if rest := batch - s%batch; rest < chunk {
				chunk = rest
			} else {
				chunk = min(batch, visitChunk)
			}
			var out built
			for _, d := range defs[s:min(s+chunk, len(defs))] {
				vr, err := builder.build(d)
				if err != nil {
					out.err = err
					break
				}
				out.recs = append(out.recs, vr)
			}
			select {
			case ch <- out:
			case <-cctx.Done():
				return
			}
			if out.err != nil {
				return
			}
		}
	}()
	// Transactions are written one at a time until the first has committed
	// (and, on PostgreSQL, visit's statistics are refreshed), then by
	// b.reg.Writers() writers at once: on PostgreSQL the server's work per
	// row (foreign-key checks and index entries) is most of the cost, and
	// two server processes do it twice as fast. A failure stops the others
	// after their transaction.
	var (
		mu       sync.Mutex // guards res, firstErr, more and the counts
		firstErr error
		more     = b.reg.Writers() - 1
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel() // the builder stops; the other writers find ch closed
	}
	// write writes one transaction: first and the chunks after it, up to
	// batch visits. It reports false when ch is drained.
	write := func(first built) (bool, error) {
		var c visitCounts
		visitsIn, open := 0, true
		err := b.reg.Update(ctx, func(tx *registry.Tx) error {
			c, visitsIn = visitCounts{}, 0
			if err := tx.PreferIndexScans(ctx); err != nil {
				return err
			}
			for bt := first; ; {
				if bt.err != nil {
					return fmt.Errorf("define visits: %w", bt.err)
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := b.writeVisits(ctx, tx, bt.recs, opts, &c); err != nil {
					return err
				}
				if visitsIn += len(bt.recs); visitsIn >= batch {
					return nil
				}
				if bt, open = <-ch; !open {
					return nil
				}
			}
		})
		if err != nil {
			return open, err
		}
		mu.Lock()
		res.Skipped += c.skipped
		res.New += c.new
		res.FullyUpdated += c.full
		res.PartiallyUpdated += c.partial
		res.DetectorRegions += c.regions
		refresh := statsAfterFirst && c.new > 0
		if refresh {
			statsAfterFirst = false
		}
		mu.Unlock()
		task.Add(int64(visitsIn))
		if refresh {
			if err := b.reg.RefreshKeyStats(ctx, "visit"); err != nil {
				return open, fmt.Errorf("define visits: %w", err)
			}
		}
		return open, nil
	}
	var writer func()
	writer = func() {
		defer wg.Done()
		for {
			bt, ok := <-ch
			if !ok {
				return
			}
			if cctx.Err() != nil && ctx.Err() == nil {
				return // another writer failed
			}
			if err := ctx.Err(); err != nil {
				fail(err)
				return
			}
			open, err := write(bt)
			if err != nil {
				fail(err)
				return
			}
			if !open {
				return
			}
			mu.Lock()
			for ; more > 0; more-- {
				wg.Add(1)
				go writer()
			}
			mu.Unlock()
		}
	}
	wg.Add(1)
	go writer()
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err() // cancelled while the builder waited
	}
	if firstErr != nil {
		return res, firstErr
	}
	res.Elapsed = time.Since(start)
	b.log.Info("Finished writing database records for visits", "visits", res.Visits, "unchanged", res.Skipped, "new", res.New,
		"updated_with_regions", res.FullyUpdated, "updated_without_regions", res.PartiallyUpdated)
	return res, nil
}

// DefaultVisitBatch is the number of visits DefineVisits writes per
// transaction unless told otherwise.
const DefaultVisitBatch = 64

// visitChunk is the most visits whose records are built (and held) at once:
// 8 LSSTCam visits, 1,640 regions (BenchmarkDefineVisits peaks at 13 MiB of
// heap on SQLite and 19 MiB on PostgreSQL; 16 took 22 and 30 MiB).
const visitChunk = 8

type visitCounts struct{ skipped, new, full, partial, regions int }

// writeVisits writes one batch of visits in tx, as upstream's per-visit
// transaction does for each.
func (b *Butler) writeVisits(ctx context.Context, tx *registry.Tx, recs []visitRecords, opts DefineVisitsOptions, c *visitCounts) error {
	vs := make([]dimensions.Record, len(recs))
	for i, r := range recs {
		vs[i] = r.visit
	}
	states, err := tx.CompareRecords(ctx, "visit", vs)
	if err != nil {
		return err
	}
	// Existing visits whose detector regions are incomplete (with
	// CheckDetectorRegions).
	incomplete := map[int]bool{}
	if opts.CheckDetectorRegions {
		var all []dimensions.Record
		var owner []int
		for i, r := range recs {
			if states[i].Exists {
				all = append(all, r.regions...)
				for range r.regions {
					owner = append(owner, i)
				}
			}
		}
		rs, err := tx.CompareRecords(ctx, "visit_detector_region", all)
		if err != nil {
			return err
		}
		for j, st := range rs {
			if !st.Exists {
				incomplete[owner[j]] = true
			}
		}
	}
	var newVisits, updVisits, defs, members, newRegions, replRegions []dimensions.Record
	var visitPixels, regionPixels [][]uint64
	var syncDefs []dimensions.Record
	for i, r := range recs {
		st := states[i]
		id := r.def.ID
		switch {
		case !st.Exists:
			newVisits = append(newVisits, r.visit)
			visitPixels = append(visitPixels, r.visitPixels)
			defs = append(defs, r.definition...)
			members = append(members, r.membership...)
			newRegions = append(newRegions, r.regions...)
			regionPixels = append(regionPixels, r.regionPixels...)
			c.new++
			continue
		case st.Diff != "" && !(opts.UpdateRecords || opts.Incremental):
			if !opts.SkipConflicting {
				return fmt.Errorf("define visits: visit %d (%s): %w: the stored visit record differs (%s); use --update-records, --incremental or --skip-conflicting",
					id, r.def.Name, errs.ErrConflict, st.Diff)
			}
			b.log.Debug("Skipping visit due to conflict", "visit", id)
			if incomplete[i] {
				replRegions = append(replRegions, r.regions...)
				c.full++
			} else {
				c.skipped++
			}
			continue
		}
		updated := st.Diff != "" // and UpdateRecords or Incremental
		if !updated && !opts.UpdateRecords && !incomplete[i] {
			b.log.Debug("Skipped already-existing visit", "visit", id)
			c.skipped++
			continue
		}
		if updated {
			updVisits = append(updVisits, r.visit)
		}
		if opts.Incremental && len(r.definition) > 1 {
			// A multi-exposure visit may have grown: add its new definitions.
			syncDefs = append(syncDefs, r.definition...)
		}
		if opts.UpdateRecords || incomplete[i] || slices.Contains(st.Changed, "region") {
			replRegions = append(replRegions, r.regions...)
			c.full++
		} else {
			c.partial++
		}
	}
	if err := insertNewRegions(ctx, tx, "visit", newVisits, visitPixels); err != nil {
		return err
	}
	if err := tx.InsertRecords(ctx, "visit", updVisits, registry.InsertReplace); err != nil {
		return err
	}
	if err := tx.InsertNewRecords(ctx, "visit_definition", defs); err != nil {
		return err
	}
	if len(syncDefs) > 0 {
		if _, err := tx.SyncRecords(ctx, "visit_definition", syncDefs, false); err != nil {
			return err
		}
	}
	if len(members) > 0 {
		if err := tx.InsertNewRecords(ctx, "visit_system_membership", members); err != nil {
			return err
		}
	}
	if err := insertNewRegions(ctx, tx, "visit_detector_region", newRegions, regionPixels); err != nil {
		return err
	}
	if err := tx.InsertRecords(ctx, "visit_detector_region", replRegions, registry.InsertReplace); err != nil {
		return err
	}
	c.regions += len(newRegions) + len(replRegions)
	return nil
}

// insertNewRegions writes new records of a spatial element with the skypix
// pixels the builder computed (when it could: a universe without a common
// skypix has none).
func insertNewRegions(ctx context.Context, tx *registry.Tx, element string, recs []dimensions.Record, pixels [][]uint64) error {
	if len(pixels) != len(recs) {
		return tx.InsertNewRecords(ctx, element, recs)
	}
	return tx.InsertNewRegions(ctx, element, recs, pixels)
}

// selectedExposures streams the exposure records of the instrument that the
// where expression selects. As upstream's script, the where is a data-ID
// query over the exposure dimension, so it may name any dimension related to
// it (band, visit, ...); the records are then read by ID, in chunks.
func (b *Butler) selectedExposures(ctx context.Context, inst, where string, bind map[string]any, fn func(dimensions.Record) error) error {
	only := dimensions.DataID{"instrument": inst}
	if strings.TrimSpace(where) == "" {
		return b.QueryRecords(ctx, RecordSearch{Element: "exposure", DataID: only}, fn)
	}
	var ids []int64
	err := b.QueryDataIDs(ctx, DataIDSearch{Dimensions: []string{"exposure"}, Where: where, Bind: bind, DataID: only}, func(id dimensions.DataID) error {
		ids = append(ids, asInt64(id["exposure"]))
		return nil
	})
	if err != nil {
		return fmt.Errorf("define visits: --where %q: %w", where, err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	const chunk = 500
	for s := 0; s < len(ids); s += chunk {
		list := make([]string, 0, chunk)
		for _, id := range ids[s:min(s+chunk, len(ids))] {
			list = append(list, strconv.FormatInt(id, 10))
		}
		if err := b.QueryRecords(ctx, RecordSearch{Element: "exposure", DataID: only, Where: "id IN (" + strings.Join(list, ", ") + ")"}, fn); err != nil {
			return err
		}
	}
	return nil
}

// RegisteredInstrument returns the registry name of the registered instrument
// named by its registry name or class name (lsst.obs.lsst.LsstCam), as the
// obs_base commands accept either; an unknown one is errs.ErrNotFound naming
// those registered.
func (b *Butler) RegisteredInstrument(ctx context.Context, name string) (string, error) {
	recs, err := b.Records(ctx, "instrument", nil)
	if err != nil {
		return "", err
	}
	var known []string
	for _, r := range recs {
		n, _ := r.Values["name"].(string)
		cls, _ := r.Values["class_name"].(string)
		if n == name || (cls != "" && cls == name) {
			return n, nil
		}
		known = append(known, n)
	}
	if len(known) == 0 {
		known = []string{"none"}
	}
	return "", fmt.Errorf("instrument %q: %w: not registered in this repository (registered: %s; see register-instrument)", name, errs.ErrNotFound, strings.Join(known, ", "))
}

// visitsConfig builds the configuration as upstream's script does: defaults,
// the instrument's overrides (LATISS's padding comes with its camera
// geometry), the downgrade of the by-counter grouping on universes without
// exposure.seq_end, then the config file and the overrides.
func (b *Butler) visitsConfig(expElem *dimensions.Element, opts DefineVisitsOptions) (visits.Config, error) {
	cfg := visits.DefaultConfig()
	if !expElem.HasField("seq_end") && cfg.GroupExposures == visits.OneToOneAndByCounter {
		b.log.Warn("Request to use grouping algorithm but registry schema is too old; using one-to-one instead", "algorithm", cfg.GroupExposures)
		cfg.GroupExposures = visits.OneToOne
	}
	if opts.ConfigFile != "" {
		f, err := os.Open(opts.ConfigFile)
		if err != nil {
			return cfg, fmt.Errorf("define visits config file: %w", err)
		}
		err = cfg.Load(f, opts.ConfigFile)
		f.Close()
		if err != nil {
			return cfg, fmt.Errorf("define visits config file %w", err)
		}
	}
	for _, kv := range opts.Config {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, fmt.Errorf("define visits config %q: %w: want FIELD=VALUE", kv, errs.ErrInvalid)
		}
		if err := cfg.Set(k, v); err != nil {
			return cfg, fmt.Errorf("define visits config: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("define visits config: %w", err)
	}
	if cfg.GroupExposures == visits.OneToOneAndByCounter && !expElem.HasField("seq_end") {
		return cfg, fmt.Errorf("define visits config: %w: grouping %s needs exposure.seq_start and seq_end, which universe %d lacks",
			errs.ErrUnsupported, cfg.GroupExposures, b.Universe.Version)
	}
	return cfg, nil
}

// visitBuilder makes the records of one visit definition.
type visitBuilder struct {
	u            *dimensions.Universe
	inst         string
	cam          *camgeom.Camera
	padding      int
	merge        bool
	registered   map[int64]bool
	systems      []visits.VisitSystem
	legacySystem *int64
	// envelope gives the common skypix pixels of a region (nil without a
	// common skypix).
	envelope func(sphgeom.Region) []uint64
}

func (vb *visitBuilder) build(d visits.Definition) (visitRecords, error) {
	out := visitRecords{def: d}
	// Regions: every camera detector's padded corners seen from the first
	// exposure's boresight (or all exposures', merged).
	exps := d.Exposures[:1]
	if vb.merge {
		exps = d.Exposures
	}
	corners := map[int][]sphgeom.UnitVector3d{}
	for _, e := range exps {
		c, err := vb.cam.Corners(camgeom.Pointing{RA: *e.TrackingRA, Dec: *e.TrackingDec, SkyAngle: *e.SkyAngle}, vb.padding)
		if err != nil {
			return out, fmt.Errorf("visit %d: exposure %d: %w", d.ID, e.ID, err)
		}
		for det, vs := range c {
			corners[det] = append(corners[det], vs...)
		}
	}
	// In camera order (increasing ID), as upstream's hulls take them, so the
	// encodings are the same byte for byte.
	dets := vb.cam.Detectors()
	slices.Sort(dets)
	all := make([]sphgeom.UnitVector3d, 0, 4*len(dets)*len(exps))
	for _, det := range dets {
		all = append(all, corners[det]...)
	}
	visitRegion, err := sphgeom.NewConvexPolygon(all)
	if err != nil {
		return out, fmt.Errorf("visit %d: region: %w", d.ID, err)
	}
	vdrElem := vb.u.MustElement("visit_detector_region")
	for _, det := range dets {
		if !vb.registered[int64(det)] {
			continue
		}
		poly, err := sphgeom.NewConvexPolygon(corners[det])
		if err != nil {
			return out, fmt.Errorf("visit %d: detector %d region: %w", d.ID, det, err)
		}
		out.regions = append(out.regions, dimensions.Record{Element: vdrElem, Values: map[string]any{
			"instrument": vb.inst, "visit": d.ID, "detector": int64(det), "region": poly.Encode(),
		}})
		if vb.envelope != nil {
			out.regionPixels = append(out.regionPixels, vb.envelope(poly))
		}
	}
	if vb.envelope != nil {
		out.visitPixels = vb.envelope(visitRegion)
	}

	f := visits.Aggregate(d.Exposures)
	visitElem := vb.u.MustElement("visit")
	vals := map[string]any{
		"instrument": vb.inst, "id": d.ID, "name": d.Name,
		"physical_filter": strPtr(f.PhysicalFilter), "target_name": strPtr(f.TargetName),
		"science_program": strPtr(f.ScienceProgram), "observation_reason": f.ObservationReason,
		"day_obs": intPtr(f.DayObs), "zenith_angle": floatPtr(f.ZenithAngle), "exposure_time": floatPtr(f.ExposureTime),
		"region": visitRegion.Encode(),
	}
	if f.Timespan != nil {
		vals["timespan"] = *f.Timespan
	} else {
		vals["timespan"] = nil
	}
	if visitElem.HasField("seq_num") {
		vals["seq_num"] = intPtr(f.SeqNum)
	}
	if visitElem.HasField("azimuth") {
		vals["azimuth"] = floatPtr(f.Azimuth)
	}
	if vb.legacySystem != nil {
		vals["visit_system"] = *vb.legacySystem
	}
	for k := range vals {
		if !visitElem.HasField(k) {
			delete(vals, k)
		}
	}
	out.visit = dimensions.Record{Element: visitElem, Values: vals}

	defElem := vb.u.MustElement("visit_definition")
	for _, e := range d.Exposures {
		v := map[string]any{"instrument": vb.inst, "visit": d.ID, "exposure": e.ID}
		if vb.legacySystem != nil {
			v["visit_system"] = *vb.legacySystem
		}
		out.definition = append(out.definition, dimensions.Record{Element: defElem, Values: v})
	}
	if vb.legacySystem == nil {
		memElem := vb.u.MustElement("visit_system_membership")
		for _, s := range vb.systems {
			if slices.Contains(d.Systems, s) {
				out.membership = append(out.membership, dimensions.Record{Element: memElem, Values: map[string]any{
					"instrument": vb.inst, "visit": d.ID, "visit_system": int64(s),
				}})
			}
		}
	}
	return out, nil
}

// prefilterExposures drops exposures already in a visit (with
// checkRegions, only those whose visits have every detector region).
func (b *Butler) prefilterExposures(ctx context.Context, inst string, exps []*visits.Exposure, checkRegions bool) ([]*visits.Exposure, int, error) {
	const chunk = 500
	inVisits := map[int64][]int64{} // exposure → visits
	for s := 0; s < len(exps); s += chunk {
		ids := make([]string, 0, chunk)
		for _, e := range exps[s:min(s+chunk, len(exps))] {
			ids = append(ids, strconv.FormatInt(e.ID, 10))
		}
		err := b.QueryRecords(ctx, RecordSearch{Element: "visit_definition", DataID: dimensions.DataID{"instrument": inst},
			Where: "exposure IN (" + strings.Join(ids, ", ") + ")"}, func(r dimensions.Record) error {
			ex := asInt64(r.Values["exposure"])
			inVisits[ex] = append(inVisits[ex], asInt64(r.Values["visit"]))
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	complete := map[int64]bool{}
	if checkRegions {
		dets, err := b.Records(ctx, "detector", dimensions.DataID{"instrument": inst})
		if err != nil {
			return nil, 0, err
		}
		var vids []int64
		for _, vs := range inVisits {
			vids = append(vids, vs...)
		}
		slices.Sort(vids)
		vids = slices.Compact(vids)
		counts := map[int64]int{}
		for s := 0; s < len(vids); s += chunk {
			ids := make([]string, 0, chunk)
			for _, v := range vids[s:min(s+chunk, len(vids))] {
				ids = append(ids, strconv.FormatInt(v, 10))
			}
			err := b.QueryRecords(ctx, RecordSearch{Element: "visit_detector_region", DataID: dimensions.DataID{"instrument": inst},
				Where: "visit IN (" + strings.Join(ids, ", ") + ")"}, func(r dimensions.Record) error {
				counts[asInt64(r.Values["visit"])]++
				return nil
			})
			if err != nil {
				return nil, 0, err
			}
		}
		for v, n := range counts {
			if n == len(dets) {
				complete[v] = true
			}
		}
	}
	var out []*visits.Exposure
	n := 0
	for _, e := range exps {
		drop := false
		for _, v := range inVisits[e.ID] {
			if !checkRegions || complete[v] {
				drop = true
			}
		}
		if drop {
			n++
			continue
		}
		out = append(out, e)
	}
	if n > 0 {
		b.log.Info("Filtered out on-sky exposures already associated with a visit", "filtered", n, "of", n+len(out))
	}
	return out, n, nil
}

// missingExposures finds, for incremental runs, the other exposures of the
// visits the given exposures belong to, as upstream's find_missing does
// (restricted to the same day_obs for the by-counter grouping, whose key
// includes it).
func (b *Butler) missingExposures(ctx context.Context, inst, algorithm string, legacyGroup bool, exps []*visits.Exposure) ([]*visits.Exposure, error) {
	have := map[int64]bool{}
	for _, e := range exps {
		have[e.ID] = true
	}
	var out []*visits.Exposure
	add := func(r dimensions.Record) error {
		e := exposureOf(r, legacyGroup)
		if !have[e.ID] && e.OnSky() {
			have[e.ID] = true
			out = append(out, e)
		}
		return nil
	}
	switch algorithm {
	case visits.ByGroupMetadata:
		key := "group"
		if legacyGroup {
			key = "group_name"
		}
		seen := map[string]bool{}
		for _, e := range exps {
			if e.Group == nil || seen[*e.Group] {
				continue
			}
			seen[*e.Group] = true
			if err := b.QueryRecords(ctx, RecordSearch{Element: "exposure", DataID: dimensions.DataID{"instrument": inst},
				Where: "exposure." + key + " = groupnam", Bind: map[string]any{"groupnam": *e.Group}}, add); err != nil {
				return nil, err
			}
		}
	case visits.OneToOneAndByCounter:
		type key struct{ d, s, e int64 }
		groups := map[key]map[int64]bool{}
		var order []key
		for _, e := range exps {
			d, s, en, err := visits.CounterKey(e)
			if err != nil {
				return nil, err
			}
			k := key{d, s, en}
			if groups[k] == nil {
				groups[k] = map[int64]bool{}
				order = append(order, k)
			}
			groups[k][*e.SeqNum] = true
		}
		for _, k := range order {
			var missing []string
			for n := k.s; n <= k.e; n++ {
				if !groups[k][n] {
					missing = append(missing, strconv.FormatInt(n, 10))
				}
			}
			if len(missing) == 0 {
				continue
			}
			where := fmt.Sprintf("exposure.day_obs = %d AND exposure.seq_start = %d AND exposure.seq_end = %d AND exposure.seq_num IN (%s)",
				k.d, k.s, k.e, strings.Join(missing, ", "))
			if err := b.QueryRecords(ctx, RecordSearch{Element: "exposure", DataID: dimensions.DataID{"instrument": inst}, Where: where}, add); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// exposureOf reads the fields define-visits uses from an exposure record.
func exposureOf(r dimensions.Record, legacyGroup bool) *visits.Exposure {
	v := r.Values
	e := &visits.Exposure{
		ID: asInt64(v["id"]), DayObs: optInt(v["day_obs"]), SeqNum: optInt(v["seq_num"]),
		SeqStart: optInt(v["seq_start"]), SeqEnd: optInt(v["seq_end"]),
		PhysicalFilter: optStr(v["physical_filter"]), TargetName: optStr(v["target_name"]),
		ScienceProgram: optStr(v["science_program"]), ObservationReason: optStr(v["observation_reason"]),
		ObservationType: optStr(v["observation_type"]), ExposureTime: optFloat(v["exposure_time"]),
		ZenithAngle: optFloat(v["zenith_angle"]), Azimuth: optFloat(v["azimuth"]),
		TrackingRA: optFloat(v["tracking_ra"]), TrackingDec: optFloat(v["tracking_dec"]), SkyAngle: optFloat(v["sky_angle"]),
	}
	e.Instrument, _ = v["instrument"].(string)
	e.ObsID, _ = v["obs_id"].(string)
	if legacyGroup {
		e.Group = optStr(v["group_name"])
		e.GroupID = optInt(v["group_id"])
	} else {
		e.Group = optStr(v["group"])
	}
	if b, ok := v["can_see_sky"].(bool); ok {
		e.CanSeeSky = &b
	}
	if ts, ok := v["timespan"].(timespan.Timespan); ok {
		e.Timespan = &ts
	}
	return e
}

func asInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

func optInt(v any) *int64 {
	switch v.(type) {
	case int64, int, int32, float64:
		n := asInt64(v)
		return &n
	}
	return nil
}

func optFloat(v any) *float64 {
	switch x := v.(type) {
	case float64:
		return &x
	case float32:
		f := float64(x)
		return &f
	case int64:
		f := float64(x)
		return &f
	}
	return nil
}

func optStr(v any) *string {
	switch x := v.(type) {
	case string:
		return &x
	case *string:
		return x
	}
	return nil
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// strPtr, intPtr and floatPtr turn optional values into record values (nil
// for NULL).
func strPtr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func intPtr(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func floatPtr(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
