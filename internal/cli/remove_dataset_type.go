package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func newRemoveDatasetTypeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-dataset-type REPO NAME...",
		Short: "Remove dataset types (glob patterns allowed) that have no datasets",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			b, err := g.open(ctx, args[0], true)
			if err != nil {
				return err
			}
			defer b.Close()
			return runRemoveDatasetType(ctx, g, b, splitList(args[1:]))
		},
	}
}

func runRemoveDatasetType(ctx context.Context, g *globals, b interface {
	RemoveDatasetTypes(context.Context, ...string) ([]string, error)
}, patterns []string) error {
	names, err := b.RemoveDatasetTypes(ctx, patterns...)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		fmt.Fprintln(g.stderr, "No dataset types matched; nothing removed.")
	}
	for _, n := range names {
		fmt.Fprintf(g.stdout, "Removed dataset type %s\n", n)
	}
	return nil
}
