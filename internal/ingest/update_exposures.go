package ingest

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
)

// UpdateExposures re-reads the headers of already-ingested raws and rewrites
// the exposure (and group, day_obs) records that differ, as obs_base's
// update-exposures-from-raws does: the raws of instrument (registry or class
// name) in collections (default <INSTRUMENT>/raw/all) matching where (which
// must not be empty) are found, one file per exposure is read, and its
// records are synced with update. No dataset is written. Result.Exposures is
// the number of exposures read, ExposuresWritten the records changed.
func UpdateExposures(ctx context.Context, b *butler.Butler, instrument, where string, collections []string, opts Options) (Result, error) {
	if strings.TrimSpace(where) == "" {
		return Result{}, fmt.Errorf("update exposures: %w: a where expression must be given (it selects the raws whose headers are read again)", errs.ErrInvalid)
	}
	inst, err := b.RegisteredInstrument(ctx, instrument)
	if err != nil {
		return Result{}, err
	}
	if len(collections) == 0 {
		collections = []string{inst + "/raw/all"}
	}
	// One raw per exposure: its header holds the exposure's metadata.
	byExposure := map[any]dataset.Ref{}
	var order []any
	q := b.Query().Collections(collections...).Where(where, nil).DataID(dimensions.DataID{"instrument": inst})
	for r, err := range q.Datasets(ctx, "raw") {
		if err != nil {
			return Result{}, fmt.Errorf("update exposures: %w", err)
		}
		k := r.DataID["exposure"]
		if _, ok := byExposure[k]; !ok {
			byExposure[k] = r
			order = append(order, k)
		}
	}
	ids := make([]dataset.ID, 0, len(order))
	for _, k := range order {
		ids = append(ids, byExposure[k].ID)
	}
	uris, err := b.URIs(ctx, ids)
	if err != nil {
		return Result{}, err
	}
	var paths []string
	for _, id := range ids {
		u, ok := uris[id]
		if !ok {
			return Result{}, fmt.Errorf("update exposures: raw %s: %w: it has no file", id, errs.ErrNotFound)
		}
		p, err := localPath(u)
		if err != nil {
			return Result{}, fmt.Errorf("update exposures: raw %s: %w", id, err)
		}
		paths = append(paths, p)
	}
	if opts.Logger != nil {
		opts.Logger.Info("Recalculating exposure records", "datasets", len(paths), "files", len(paths))
	}
	if len(paths) == 0 {
		return Result{}, nil
	}
	opts.UpdateRecords, opts.RecordsOnly = true, true
	return Raws(ctx, b, paths, opts)
}

// localPath turns a file URI of the datastore into a path.
func localPath(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "", "file":
		return u.Path, nil
	}
	return "", fmt.Errorf("%w: %s: only files on a local file system can be read again", errs.ErrUnsupported, uri)
}
