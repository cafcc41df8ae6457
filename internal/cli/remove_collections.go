package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler/dataset"
	"github.com/spf13/cobra"
)

type removeCollectionsOptions struct {
	noConfirm, removeFromParents bool
}

func newRemoveCollectionsCmd(g *globals) *cobra.Command {
	var o removeCollectionsOptions
	cmd := &cobra.Command{
		Use:   "remove-collections REPO COLLECTION...",
		Short: "Remove TAGGED, CHAINED and CALIBRATION collections (never RUNs; see remove-runs)",
		Args:  cobra.MinimumNArgs(2),
		RunE:  func(c *cobra.Command, args []string) error { return runRemoveCollections(c.Context(), g, o, args) },
	}
	cmd.Flags().Bool("confirm", true, "ask before removing (default)")
	cmd.Flags().BoolVar(&o.noConfirm, "no-confirm", false, "remove without asking")
	cmd.Flags().BoolVar(&o.removeFromParents, "remove-from-parents", false, "also remove the collections from the chains holding them")
	return cmd
}

func runRemoveCollections(ctx context.Context, g *globals, o removeCollectionsOptions, args []string) error {
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	cols, err := b.Collections(ctx, splitList(args[1:]), dataset.Tagged, dataset.Chained, dataset.Calibration)
	if err != nil {
		return err
	}
	if len(cols) == 0 {
		fmt.Fprintln(g.stdout, "No collections found.")
		return nil
	}
	t := &table{cols: []string{"Collection", "Type"}, left: true}
	var names []string
	for _, c := range cols {
		t.add(nil, c.Name, c.Type.String())
		names = append(names, c.Name)
	}
	fmt.Fprintln(g.stdout, "The following collections will be removed:")
	render(g.stdout, "table", t)
	if !o.noConfirm && !g.confirm("Continue?") {
		fmt.Fprintln(g.stdout, "Aborted.")
		return nil
	}
	if err := b.RemoveCollections(ctx, names, o.removeFromParents); err != nil {
		return err
	}
	fmt.Fprintln(g.stdout, "Removed collections.")
	return nil
}
