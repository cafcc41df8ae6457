package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/spf13/cobra"
)

type ingestFilesOptions struct {
	formatter, idMode, prefix, transfer string
	dataID                              []string
	noTrackFileAttrs                    bool
}

func newIngestFilesCmd(g *globals) *cobra.Command {
	var o ingestFilesOptions
	cmd := &cobra.Command{
		Use:   "ingest-files REPO DATASET_TYPE RUN TABLE_FILE",
		Short: "Ingest files listed in a CSV or ECSV table as datasets",
		Long: `Ingest existing files as datasets of DATASET_TYPE in RUN. TABLE_FILE is a CSV (or ECSV)
table: the first column holds the file paths (relative to --prefix or the table's
directory), the other columns are named by dimensions and give each file's data ID.
--data-id supplies dimension values common to every file.`,
		Example: "  butler ingest-files REPO bias_files LSSTCam/bias files.csv --data-id instrument=LSSTCam",
		Args:    cobra.ExactArgs(4),
		RunE:    func(c *cobra.Command, args []string) error { return runIngestFiles(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.formatter, "formatter", "", "formatter class recorded for the files (default: the configured one)")
	f.StringVar(&o.idMode, "id-generation-mode", "UNIQUE", "UNIQUE, DATAID_TYPE or DATAID_TYPE_RUN")
	f.StringArrayVar(&o.dataID, "data-id", nil, "KEY=VALUE common to all files (repeatable)")
	f.StringVar(&o.prefix, "prefix", "", "directory the table's relative paths are relative to (default: the current directory)")
	f.StringVarP(&o.transfer, "transfer", "t", "auto", "auto, link, symlink, hardlink, copy, move, relsymlink or direct")
	f.Bool("track-file-attrs", true, "record file sizes (default)")
	f.BoolVar(&o.noTrackFileAttrs, "no-track-file-attrs", false, "do not record file sizes")
	return cmd
}

func runIngestFiles(ctx context.Context, g *globals, o ingestFilesOptions, args []string) error {
	mode, err := dataset.ParseIDMode(o.idMode)
	if err != nil {
		return usagef("--id-generation-mode: %v", err)
	}
	common, err := parseDataID(o.dataID)
	if err != nil {
		return err
	}
	files, err := readFileTable(args[3], o.prefix)
	if err != nil {
		return err
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	for i := range files {
		for k, v := range common {
			files[i].DataID[k] = v
		}
		files[i].Formatter = o.formatter
	}
	res, err := b.Ingest(ctx, args[1], args[2], files, butler.IngestOptions{Transfer: o.transfer, IDMode: mode, NoFileAttrs: o.noTrackFileAttrs})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Ingested %d file(s) into %s.\n", len(res.Refs), args[2])
	return nil
}

// readFileTable reads a CSV or ECSV table of file paths and data ID columns.
func readFileTable(path, prefix string) ([]butler.FileDataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", path, err)
	}
	defer f.Close()
	// As upstream: relative paths are relative to --prefix, else to the
	// current directory (not to the table's).
	if prefix == "" {
		prefix = "."
	}
	if !strings.Contains(prefix, "://") {
		abs, err := filepath.Abs(prefix)
		if err != nil {
			return nil, fmt.Errorf("--prefix %s: %w", prefix, err)
		}
		prefix = abs
	}
	r := csv.NewReader(&skipComments{r: f})
	r.FieldsPerRecord = -1
	if strings.HasSuffix(path, ".ecsv") {
		r.Comma = ' '
	}
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w: no header line (want: file,<dimension>,...)", path, errs.ErrInvalid)
	}
	var out []butler.FileDataset
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read table %s line %d: %w: %w", path, line, errs.ErrInvalid, err)
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("read table %s line %d: %w: %d columns, header has %d", path, line, errs.ErrInvalid, len(rec), len(header))
		}
		p := rec[0]
		if !filepath.IsAbs(p) && !strings.Contains(p, "://") {
			if strings.Contains(prefix, "://") {
				p = strings.TrimSuffix(prefix, "/") + "/" + p
			} else {
				p = filepath.Join(prefix, p)
			}
		}
		fd := butler.FileDataset{Path: strings.TrimPrefix(p, "file://"), DataID: map[string]any{}, Size: -1}
		for i, col := range header[1:] {
			fd.DataID[strings.TrimSpace(col)] = parseScalar(strings.TrimSpace(rec[i+1]))
		}
		out = append(out, fd)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read table %s: %w: no rows", path, errs.ErrInvalid)
	}
	return out, nil
}

// skipComments drops "#" lines (the ECSV header) from a table.
type skipComments struct {
	r  io.Reader
	rd *strings.Reader
}

func (s *skipComments) Read(p []byte) (int, error) {
	if s.rd == nil {
		data, err := io.ReadAll(s.r)
		if err != nil {
			return 0, err
		}
		var keep []string
		for _, l := range strings.Split(string(data), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				keep = append(keep, l)
			}
		}
		s.rd = strings.NewReader(strings.Join(keep, "\n"))
	}
	return s.rd.Read(p)
}
