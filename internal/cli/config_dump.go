package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

type configDumpOptions struct {
	subset, file string
	searchPath   []string
}

func newConfigDumpCmd(g *globals) *cobra.Command {
	var o configDumpOptions
	cmd := &cobra.Command{
		Use:   "config-dump REPO",
		Short: "Print the repository's full configuration (passwords are never shown)",
		Args:  cobra.ExactArgs(1),
		RunE:  func(c *cobra.Command, args []string) error { return runConfigDump(c.Context(), g, o, args) },
	}
	cmd.Flags().StringVarP(&o.subset, "subset", "s", "", "only this key (e.g. .datastore.root or registry)")
	cmd.Flags().StringVar(&o.file, "file", "", "write to this file instead of standard output")
	cmd.Flags().StringArrayVarP(&o.searchPath, "searchpath", "p", nil, "more directories of configuration overrides, searched first (comma-separated, repeatable)")
	return cmd
}

func runConfigDump(ctx context.Context, g *globals, o configDumpOptions, args []string) error {
	b, err := butler.Open(ctx, args[0], butler.OpenOptions{SearchPath: splitList(o.searchPath), Logger: g.log})
	if err != nil {
		return err
	}
	defer b.Close()
	cfg, err := b.Config()
	if err != nil {
		return err
	}
	var out []byte
	if o.subset != "" {
		v, ok := cfg.Get(o.subset)
		if !ok {
			return usagef("config-dump: no key %q in the configuration", o.subset)
		}
		if sub := cfg.Sub(o.subset); sub != nil {
			out, err = sub.YAML()
		} else {
			out, err = yaml.Marshal(map[string]any{o.subset: v})
		}
	} else {
		out, err = cfg.YAML()
	}
	if err != nil {
		return err
	}
	if o.file != "" {
		return os.WriteFile(o.file, out, 0o644)
	}
	_, err = fmt.Fprint(g.stdout, string(out))
	return err
}
