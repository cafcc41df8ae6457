package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

type configValidateOptions struct {
	quiet        bool
	datasetTypes []string
	ignore       []string
}

func newConfigValidateCmd(g *globals) *cobra.Command {
	var o configValidateOptions
	cmd := &cobra.Command{
		Use:   "config-validate REPO",
		Short: "Check that the configuration can serve every registered dataset type",
		Long:  "Check that a file template and a formatter exist for every registered dataset type. Exits 1 on failure.",
		Args:  cobra.ExactArgs(1),
		RunE:  func(c *cobra.Command, args []string) error { return runConfigValidate(c.Context(), g, o, args) },
	}
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print nothing on success")
	cmd.Flags().StringArrayVarP(&o.datasetTypes, "dataset-type", "d", nil, "only these dataset types (globs; comma-separated, repeatable)")
	cmd.Flags().StringArrayVarP(&o.ignore, "ignore", "i", nil, "dataset types to skip (comma-separated, repeatable)")
	return cmd
}

func runConfigValidate(ctx context.Context, g *globals, o configValidateOptions, args []string) error {
	b, err := g.open(ctx, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	problems, err := b.ValidateConfiguration(ctx, splitList(o.datasetTypes), splitList(o.ignore))
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(g.stderr, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("configuration of %s: %d problem(s)", args[0], len(problems))
	}
	if !o.quiet {
		fmt.Fprintln(g.stdout, "No problems encountered with configuration.")
	}
	return nil
}
