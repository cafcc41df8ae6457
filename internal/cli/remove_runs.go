package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/spf13/cobra"
)

type removeRunsOptions struct {
	noConfirm, force bool
}

func newRemoveRunsCmd(g *globals) *cobra.Command {
	var o removeRunsOptions
	cmd := &cobra.Command{
		Use:   "remove-runs REPO COLLECTION...",
		Short: "Remove RUN collections, their datasets and files",
		Args:  cobra.MinimumNArgs(2),
		RunE:  func(c *cobra.Command, args []string) error { return runRemoveRuns(c.Context(), g, o, args) },
	}
	cmd.Flags().Bool("confirm", true, "ask before removing (default)")
	cmd.Flags().BoolVar(&o.noConfirm, "no-confirm", false, "remove without asking")
	cmd.Flags().BoolVar(&o.force, "force", false, "also remove runs that are in chains (unlinking them); needed with --no-confirm")
	return cmd
}

func runRemoveRuns(ctx context.Context, g *globals, o removeRunsOptions, args []string) error {
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	tree, err := b.CollectionTree(ctx, splitList(args[1:]), butler.CollectionTreeOptions{Types: []dataset.CollectionType{dataset.Run}})
	if err != nil {
		return err
	}
	runs := tree.Matched
	if len(runs) == 0 {
		fmt.Fprintln(g.stdout, "Did not find any collections to remove.")
		return nil
	}
	t := &table{cols: []string{"Run", "Parents"}, left: true}
	var names []string
	inChains := false
	for _, r := range runs {
		var parents []string
		for _, p := range r.Parents {
			parents = append(parents, p.Name)
		}
		inChains = inChains || len(parents) > 0
		t.add(nil, r.Name, strings.Join(parents, ", "))
		names = append(names, r.Name)
	}
	if inChains && o.noConfirm && !o.force {
		return usagef("some runs are in chains; add --force to unlink and remove them without confirmation")
	}
	fmt.Fprintln(g.stdout, "The following RUN collections will be removed:")
	render(g.stdout, "table", t)
	if !o.noConfirm && !g.confirm("Continue?") {
		fmt.Fprintln(g.stdout, "Aborted.")
		return nil
	}
	n, err := b.RemoveRuns(ctx, names, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Removed %d run(s) and %d dataset(s).\n", len(names), n)
	return nil
}
