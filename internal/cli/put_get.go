package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/spf13/cobra"
)

type putOptions struct {
	dataID []string
	idMode string
}

// newPutCmd stores a file's bytes as a dataset: a small convenience over the Go
// API's Put for scripts (upstream has no such command).
func newPutCmd(g *globals) *cobra.Command {
	var o putOptions
	cmd := &cobra.Command{
		Use:     "put REPO DATASET_TYPE RUN FILE",
		Short:   "Store the content of FILE (or - for standard input) as a new dataset",
		Example: "  butler put REPO config_json myrun config.json --data-id instrument=LSSTCam",
		Args:    cobra.ExactArgs(4),
		RunE:    func(c *cobra.Command, args []string) error { return runPut(c.Context(), g, o, args) },
	}
	cmd.Flags().StringArrayVar(&o.dataID, "data-id", nil, "KEY=VALUE of the dataset's data ID (repeatable)")
	cmd.Flags().StringVar(&o.idMode, "id-generation-mode", "UNIQUE", "UNIQUE, DATAID_TYPE or DATAID_TYPE_RUN")
	return cmd
}

func runPut(ctx context.Context, g *globals, o putOptions, args []string) error {
	id, err := parseDataID(o.dataID)
	if err != nil {
		return err
	}
	mode, err := dataset.ParseIDMode(o.idMode)
	if err != nil {
		return usagef("--id-generation-mode: %v", err)
	}
	var data []byte
	if args[3] == "-" {
		data, err = io.ReadAll(g.stdin)
	} else {
		data, err = os.ReadFile(args[3])
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", args[3], err)
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	ref, err := b.Put(ctx, data, args[1], id, args[2], butler.PutOptions{IDMode: mode})
	if err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, ref.ID)
	return nil
}

type getOptions struct {
	dataID      []string
	collections []string
	output      string
	format      string
	formatSet   bool
}

func newGetCmd(g *globals) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get REPO DATASET_TYPE",
		Short: "Write the content of a dataset (found by data ID in collections) to standard output or a file",
		Long: `Write the content of a dataset (found by data ID in collections) to standard output or a file.

A component dataset type name (raw.metadata) reads that component of the dataset:
for Exposure storage classes, metadata (the FITS header as a mapping), bbox,
dimensions and xy0 are read from the file's headers and written as YAML or JSON
(--format). Other components are an error.`,
		Example: "  butler get REPO raw.metadata --collections LSSTCam/raw/all --data-id instrument=LSSTCam \\\n" +
			"      --data-id exposure=2025041500001 --data-id detector=10 --format json",
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			o.formatSet = c.Flags().Changed("format")
			return runGet(c.Context(), g, o, args)
		},
	}
	cmd.Flags().StringArrayVar(&o.dataID, "data-id", nil, "KEY=VALUE of the dataset's data ID (repeatable)")
	cmd.Flags().StringArrayVar(&o.collections, "collections", nil, "collections to search, in order")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&o.format, "format", "yaml", "how a component is written: yaml or json")
	return cmd
}

func runGet(ctx context.Context, g *globals, o getOptions, args []string) error {
	id, err := parseDataID(o.dataID)
	if err != nil {
		return err
	}
	if o.format != "yaml" && o.format != "json" {
		return usagef("--format %q: want yaml or json", o.format)
	}
	if o.formatSet && !strings.Contains(args[1], ".") {
		return usagef("--format applies to a component (DATASET_TYPE.COMPONENT); %s is written as stored", args[1])
	}
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	var data []byte
	if strings.Contains(args[1], ".") && o.format == "json" { // a component
		v, _, err := b.GetComponent(ctx, args[1], id, splitList(o.collections))
		if err != nil {
			return err
		}
		if data, err = json.MarshalIndent(v, "", "  "); err != nil {
			return fmt.Errorf("encode %s: %w", args[1], err)
		}
		data = append(data, '\n')
	} else if data, _, err = b.Get(ctx, args[1], id, splitList(o.collections)); err != nil {
		return err // a component comes back as YAML
	}
	if o.output != "" {
		return os.WriteFile(o.output, data, 0o644)
	}
	_, err = g.stdout.Write(data)
	return err
}
