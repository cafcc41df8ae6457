package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type associateOptions struct{ refSearchOptions }

func newAssociateCmd(g *globals) *cobra.Command {
	var o associateOptions
	cmd := &cobra.Command{
		Use:   "associate REPO COLLECTION",
		Short: "Add datasets found in collections to a TAGGED collection",
		Args:  cobra.ExactArgs(2),
		RunE:  func(c *cobra.Command, args []string) error { return runAssociate(c.Context(), g, o, args) },
	}
	o.addFlags(cmd)
	return cmd
}

func runAssociate(ctx context.Context, g *globals, o associateOptions, args []string) error {
	b, refs, err := o.openRefs(ctx, g, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Associate(ctx, args[1], refs); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Associated %d dataset(s) with %s.\n", len(refs), args[1])
	return nil
}
