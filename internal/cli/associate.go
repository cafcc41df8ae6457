package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/spf13/cobra"
)

type associateOptions struct {
	types       []string
	collections []string
	where       string
	findFirst   bool
	limit       int
}

func newAssociateCmd(g *globals) *cobra.Command {
	var o associateOptions
	cmd := &cobra.Command{
		Use:   "associate REPO COLLECTION",
		Short: "Add datasets found in collections to a TAGGED collection",
		Args:  cobra.ExactArgs(2),
		RunE:  func(c *cobra.Command, args []string) error { return runAssociate(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.types, "dataset-type", "d", nil, "dataset types (globs; comma-separated, repeatable)")
	f.StringArrayVar(&o.collections, "collections", nil, "collections to search")
	f.StringVar(&o.where, "where", "", "where expression")
	f.BoolVar(&o.findFirst, "find-first", false, "only the first dataset per data ID")
	f.IntVar(&o.limit, "limit", 0, "at most this many datasets (0: all)")
	return cmd
}

func runAssociate(ctx context.Context, g *globals, o associateOptions, args []string) error {
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	var refs []dataset.Ref
	err = b.QueryDatasets(ctx, butler.DatasetSearch{Types: splitList(o.types), Collections: splitList(o.collections), Where: o.where, FindFirst: o.findFirst, Limit: o.limit}, func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.Associate(ctx, args[1], refs); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Associated %d dataset(s) with %s.\n", len(refs), args[1])
	return nil
}
