package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/internal/exportfile"
	"github.com/spf13/cobra"
)

type importOptions struct {
	transfer, exportFile string
	skipDimensions       []string
	noTrackFileAttrs     bool
	registryOnly         bool
	format               string
}

func newImportCmd(g *globals) *cobra.Command {
	var o importOptions
	cmd := &cobra.Command{
		Use:   "import REPO DIRECTORY",
		Short: "Import datasets, collections and dimension records from an export file",
		Long: `Import the contents of a daf_butler export file (format 1.0.x, as written by
"butler export", "butler export-calibs" or the Python butler's Butler.export) into REPO,
in one transaction: dimension records (existing ones are kept), collections, dataset
types, datasets with their IDs, their files (from DIRECTORY, with --transfer), chains,
tags and certifications. Files written for older dimension universes are migrated as
upstream does. On any error nothing is imported.

Exit status: 0 imported, 1 error (the entry is named), 2 usage error.`,
		Example: "  butler import REPO exported/ --transfer symlink\n  butler import REPO . --export-file other.yaml --skip-dimensions instrument",
		Args:    cobra.ExactArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runImport(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.transfer, "transfer", "t", "auto", "auto, link, symlink, hardlink, copy, move, relsymlink or direct")
	f.StringVar(&o.exportFile, "export-file", exportfile.DefaultExportFile, "export file (relative paths are in DIRECTORY)")
	f.StringArrayVarP(&o.skipDimensions, "skip-dimensions", "s", nil, "dimension elements whose records are not imported (repeatable, comma-separated)")
	f.Bool("track-file-attrs", true, "record file sizes (default)")
	f.BoolVar(&o.noTrackFileAttrs, "no-track-file-attrs", false, "do not record file sizes")
	f.BoolVar(&o.registryOnly, "registry-only", false, "import records, collections and datasets but no files (the datasets then have no artifacts)")
	addFormatFlag(cmd, &o.format)
	return cmd
}

func runImport(ctx context.Context, g *globals, o importOptions, args []string) error {
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	file := o.exportFile
	if !filepath.IsAbs(file) {
		file = filepath.Join(args[1], file)
	}
	start := time.Now()
	res, err := exportfile.ImportFile(ctx, b, file, butler.ImportOptions{
		Dir: args[1], Transfer: o.transfer, SkipDimensions: splitList(o.skipDimensions), NoFileAttrs: o.noTrackFileAttrs, RegistryOnly: o.registryOnly,
	}, func(msg string) { g.log.Warn(msg) })
	if err != nil {
		return err
	}
	el := time.Since(start)
	if o.format != "table" {
		return renderValue(g.stdout, o.format, map[string]any{"records": res.Records, "collections": res.Collections,
			"dataset_types": res.DatasetTypes, "datasets": res.Datasets, "files": res.Files, "skipped": res.Skipped, "seconds": el.Seconds()})
	}
	fmt.Fprintf(g.stdout, "Imported %d dimension record(s) (existing ones kept), %d new collection(s), %d new dataset type(s), %d dataset(s) (%d file(s)); %d already present; in %.2fs.\n",
		res.Records, res.Collections, res.DatasetTypes, res.Datasets, res.Files, res.Skipped, el.Seconds())
	return nil
}
