package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/spf13/cobra"
)

type retrieveArtifactsOptions struct {
	types, collections []string
	where, transfer    string
	findFirst          bool
	limit              int
	verbose            bool
	noPreservePath     bool
	clobber            bool
}

func newRetrieveArtifactsCmd(g *globals) *cobra.Command {
	var o retrieveArtifactsOptions
	cmd := &cobra.Command{
		Use:   "retrieve-artifacts REPO DESTINATION",
		Short: "Copy the files of datasets into a local directory",
		Args:  cobra.ExactArgs(2),
		RunE:  func(c *cobra.Command, args []string) error { return runRetrieveArtifacts(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.types, "dataset-type", "d", nil, "dataset types (globs; comma-separated, repeatable)")
	f.StringArrayVar(&o.collections, "collections", nil, "collections to search")
	f.StringVar(&o.where, "where", "", "where expression")
	f.BoolVar(&o.findFirst, "find-first", false, "only the first dataset per data ID")
	f.IntVar(&o.limit, "limit", 0, "at most this many datasets (0: all)")
	f.StringVarP(&o.transfer, "transfer", "t", "copy", "copy, link, symlink, hardlink or relsymlink")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list every file written")
	f.Bool("preserve-path", true, "keep the datastore's directory layout (default)")
	f.BoolVar(&o.noPreservePath, "no-preserve-path", false, "write every file directly in DESTINATION")
	f.BoolVar(&o.clobber, "clobber", false, "overwrite existing files")
	return cmd
}

func runRetrieveArtifacts(ctx context.Context, g *globals, o retrieveArtifactsOptions, args []string) error {
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	cols := splitList(o.collections)
	if len(cols) == 0 {
		cols = []string{"*"}
	}
	var refs []dataset.Ref
	err = b.QueryDatasets(ctx, butler.DatasetSearch{Types: splitList(o.types), Collections: cols, Where: o.where, FindFirst: o.findFirst, Limit: o.limit}, func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		return err
	}
	paths, err := b.RetrieveArtifacts(ctx, refs, args[1], butler.RetrieveOptions{Transfer: o.transfer, PreservePath: !o.noPreservePath, Clobber: o.clobber})
	if err != nil {
		return err
	}
	if o.verbose {
		for _, p := range paths {
			fmt.Fprintln(g.stdout, p)
		}
	}
	fmt.Fprintf(g.stdout, "Number of artifacts retrieved into destination %s: %d\n", args[1], len(paths))
	return nil
}
