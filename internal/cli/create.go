package cli

import (
	"context"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
)

type createOptions struct {
	seedConfig, dimensionConfig, outfile string
	standalone, override                 bool
}

func newCreateCmd(g *globals) *cobra.Command {
	var o createOptions
	cmd := &cobra.Command{
		Use:   "create REPO",
		Short: "Create an empty repository",
		Long: `Create an empty butler repository at REPO: REPO/butler.yaml and, by default, a SQLite
registry REPO/gen3.sqlite3 with the files stored under REPO. A seed config (--seed-config)
can name a PostgreSQL registry (registry.db, registry.namespace) or another datastore root.
An existing repository is never overwritten.`,
		Example: `  butler create /data/repo
  butler create --seed-config seed.yaml --override /data/repo`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runCreate(c.Context(), g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.seedConfig, "seed-config", "", "YAML config whose values are used in the new repository (registry.db, registry.namespace, datastore.root, ...)")
	f.StringVar(&o.dimensionConfig, "dimension-config", "", "YAML dimension universe to use instead of the default")
	f.BoolVar(&o.standalone, "standalone", false, "write every default into the config, so it no longer depends on the packaged defaults")
	f.BoolVar(&o.override, "override", false, "keep a datastore root and registry db set in the seed config instead of <butlerRoot>-relative ones")
	f.StringVarP(&o.outfile, "outfile", "f", "", "write the config to this file instead of REPO/butler.yaml (adds root: REPO)")
	return cmd
}

func runCreate(ctx context.Context, g *globals, o createOptions, args []string) error {
	file, err := butler.Create(ctx, args[0], butler.CreateOptions{
		SeedConfig: o.seedConfig, DimensionConfig: o.dimensionConfig, Standalone: o.standalone,
		Override: o.override, Outfile: o.outfile, Logger: g.log,
	})
	if err != nil {
		return err
	}
	// Silent on success, as upstream; the log (-v / --log-level INFO) names the config.
	g.log.Info("created repository", "config", file)
	return nil
}
