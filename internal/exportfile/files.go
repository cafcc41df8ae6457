package exportfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
)

// DefaultExportFile is the export file name import looks for in its directory.
const DefaultExportFile = "export.yaml"

// ImportFile reads the export file and imports it into b; relative file paths
// are taken from opts.Dir (the file's own directory when empty).
func ImportFile(ctx context.Context, b *butler.Butler, file string, opts butler.ImportOptions, warn func(string)) (butler.ImportResult, error) {
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return butler.ImportResult{}, fmt.Errorf("export file %s: %w: no such file", file, errs.ErrNotFound)
		}
		return butler.ImportResult{}, fmt.Errorf("export file %s: %w", file, err)
	}
	defer f.Close()
	bun, _, err := Read(f, b.Universe, ReadOptions{Warn: warn, DayObsOffset: butler.KnownDayObsOffset})
	if err != nil {
		return butler.ImportResult{}, fmt.Errorf("export file %s: %w", file, err)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(file)
	}
	return b.Import(ctx, bun, opts)
}

// ExportDir writes refs (and the extra collections of opts) as dir/filename,
// copying their files into dir with the transfer mode first ("" or "none":
// no files; paths then stay relative to the repository's datastore).
func ExportDir(ctx context.Context, b *butler.Butler, refs []dataset.Ref, dir, filename, transfer string, opts butler.ExportOptions) (*butler.Bundle, error) {
	if filename == "" {
		filename = DefaultExportFile
	}
	target := filename
	if !filepath.IsAbs(target) {
		target = filepath.Join(dir, filename)
	}
	if _, err := os.Stat(target); err == nil {
		return nil, fmt.Errorf("export to %s: %w: the file exists", target, errs.ErrConflict)
	}
	bun, err := b.Export(ctx, refs, opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if transfer != "" && transfer != "none" {
		if _, err := b.RetrieveArtifacts(ctx, refs, dir, butler.RetrieveOptions{Transfer: transfer, PreservePath: true}); err != nil {
			return nil, fmt.Errorf("export files: %w", err)
		}
		for i := range bun.Files {
			if p := bun.Files[i].Path; strings.Contains(p, "://") {
				bun.Files[i].Path = path.Base(p) // where RetrieveArtifacts put it
			}
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, bun, b.Universe); err != nil {
		return nil, err
	}
	tmp := target + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("export: %w", err)
	}
	return bun, nil
}

// CalibrationRefs lists the datasets certified in CALIBRATION collections (all
// of them when names is empty), restricted to the given dataset types (globs)
// when any; it returns the refs and the collections searched.
func CalibrationRefs(ctx context.Context, b *butler.Butler, names, types []string) ([]dataset.Ref, []string, error) {
	if len(names) == 0 {
		names = []string{"*"}
	}
	cols, err := b.Collections(ctx, names, dataset.Calibration)
	if err != nil {
		return nil, nil, err
	}
	if len(cols) == 0 {
		return nil, nil, fmt.Errorf("export calibrations: %w: no CALIBRATION collection matches %s", errs.ErrNotFound, strings.Join(names, ", "))
	}
	var refs []dataset.Ref
	seen := map[dataset.ID]bool{}
	var colNames []string
	for _, c := range cols {
		colNames = append(colNames, c.Name)
		// Certifications, not a dataset query: queries do not see what is
		// only in CALIBRATION collections.
		certs, err := b.Certifications(ctx, c.Name)
		if err != nil {
			return nil, nil, err
		}
		for _, ce := range certs {
			if seen[ce.ID] || !matchAny(types, ce.Type) {
				continue
			}
			seen[ce.ID] = true
			ref, err := b.Dataset(ctx, ce.ID)
			if err != nil {
				return nil, nil, fmt.Errorf("export calibrations of %s: %w", c.Name, err)
			}
			refs = append(refs, ref)
		}
	}
	return refs, colNames, nil
}

// matchAny reports whether name matches one of the globs (any name when none).
func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return len(globs) == 0
}
