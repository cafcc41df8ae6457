package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
	"github.com/spf13/cobra"
)

type pruneDatasetsOptions struct {
	types        []string
	findAll      bool
	where        string
	disassociate []string
	purge        string
	unstore      bool
	dryRun       bool
	noConfirm    bool
	quiet        bool
}

func newPruneDatasetsCmd(g *globals) *cobra.Command {
	var o pruneDatasetsOptions
	cmd := &cobra.Command{
		Use:   "prune-datasets REPO [COLLECTIONS...]",
		Short: "Remove datasets: from TAGGED collections, from the datastore, or entirely",
		Long: `Find datasets in COLLECTIONS and then:
  --disassociate TAG  remove them from the TAGGED collection TAG (repeatable)
  --unstore           delete their files but keep them in the registry
  --purge RUN         delete them entirely (files and records); COLLECTIONS must be RUN itself`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runPruneDatasets(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.types, "datasets", nil, "dataset types (globs; comma-separated, repeatable)")
	f.BoolVar(&o.findAll, "find-all", false, "every matching dataset, not only the first per data ID")
	f.StringVar(&o.where, "where", "", "where expression")
	f.StringArrayVar(&o.disassociate, "disassociate", nil, "TAGGED collection to remove the datasets from (repeatable)")
	f.StringVar(&o.purge, "purge", "", "RUN collection whose datasets are deleted entirely")
	f.BoolVar(&o.unstore, "unstore", false, "delete the files, keep the registry entries")
	f.BoolVar(&o.dryRun, "dry-run", false, "show what would be removed and stop")
	f.Bool("confirm", true, "ask before removing (default)")
	f.BoolVar(&o.noConfirm, "no-confirm", false, "remove without asking")
	f.BoolVar(&o.quiet, "quiet", false, "print nothing on success")
	return cmd
}

func runPruneDatasets(ctx context.Context, g *globals, o pruneDatasetsOptions, args []string) error {
	cols := splitList(args[1:])
	tags := splitList(o.disassociate)
	switch {
	case o.purge == "" && !o.unstore && len(tags) == 0:
		return usagef("say what to do: --purge RUN, --unstore or --disassociate TAG")
	case o.purge != "" && len(tags) > 0:
		return usagef("--purge removes datasets entirely; it cannot be combined with --disassociate")
	case o.purge != "" && len(cols) == 0:
		cols = []string{o.purge}
	case o.purge != "" && (len(cols) != 1 || cols[0] != o.purge):
		return usagef("with --purge %s the only collection searched must be %s", o.purge, o.purge)
	case len(cols) == 0 && len(tags) > 0:
		cols = tags
	case len(cols) == 0:
		return usagef("give the collections to search")
	}
	b, err := g.open(ctx, args[0], !o.dryRun)
	if err != nil {
		return err
	}
	defer b.Close()
	var refs []dataset.Ref
	q := b.Query().Implied(false).Collections(cols...).Where(o.where, nil).FindFirst(!o.findAll && !hasGlob(cols))
	err = each(q.Datasets(ctx, splitList(o.types)...), func(r dataset.Ref) error {
		refs = append(refs, r)
		return nil
	})
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		fmt.Fprintln(g.stdout, "Did not find any datasets to prune.")
		return nil
	}
	t := &table{cols: []string{"type", "run", "id", "data ID"}}
	for _, r := range refs {
		t.add(nil, r.Type.Name, r.Run, r.ID.String(), r.DataID.String())
	}
	what := "removed entirely"
	if o.purge == "" {
		what = "unstored"
		if len(tags) > 0 {
			what = "disassociated"
		}
	}
	if !o.quiet || o.dryRun || !o.noConfirm {
		fmt.Fprintf(g.stdout, "The following datasets will be %s:\n", what)
		render(g.stdout, "table", t)
	}
	if o.dryRun {
		return nil
	}
	if !o.noConfirm && !g.confirm("Continue?") {
		fmt.Fprintln(g.stdout, "Aborted.")
		return nil
	}
	if err := b.Prune(ctx, refs, butler.PruneOptions{Purge: o.purge != "", Unstore: o.unstore, Disassociate: tags}); err != nil {
		return err
	}
	if !o.quiet {
		fmt.Fprintf(g.stdout, "%d dataset(s) %s.\n", len(refs), what)
	}
	return nil
}

func hasGlob(cols []string) bool {
	for _, c := range cols {
		for _, r := range c {
			if r == '*' || r == '?' || r == '[' {
				return true
			}
		}
	}
	return false
}
