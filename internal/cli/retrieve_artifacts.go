package cli

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
)

type retrieveArtifactsOptions struct {
	refSearchOptions
	transfer       string
	verbose        bool
	noPreservePath bool
	clobber        bool
	noClobber      bool
	zip, noZip     bool
}

func newRetrieveArtifactsCmd(g *globals) *cobra.Command {
	var o retrieveArtifactsOptions
	cmd := &cobra.Command{
		Use:   "retrieve-artifacts REPO DESTINATION",
		Short: "Copy the files of datasets into a local directory",
		Args:  cobra.ExactArgs(2),
		RunE:  func(c *cobra.Command, args []string) error { return runRetrieveArtifacts(c.Context(), g, o, args) },
	}
	o.addFlagsWith(cmd, -20000, true)
	f := cmd.Flags()
	f.StringVarP(&o.transfer, "transfer", "t", "auto", "auto (copy), copy, link, symlink, hardlink or relsymlink")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list every file written")
	f.Bool("preserve-path", true, "keep the datastore's directory layout (default)")
	f.BoolVar(&o.noPreservePath, "no-preserve-path", false, "write every file directly in DESTINATION")
	f.BoolVar(&o.clobber, "clobber", false, "overwrite existing files")
	f.BoolVar(&o.noClobber, "no-clobber", false, "refuse to overwrite existing files (default)")
	f.BoolVar(&o.zip, "zip", false, "write one zip of the files, with an index for ingest-zip, named <uuid>.zip")
	f.BoolVar(&o.noZip, "no-zip", false, "write the files themselves (default)")
	return cmd
}

func runRetrieveArtifacts(ctx context.Context, g *globals, o retrieveArtifactsOptions, args []string) error {
	o.clobber = o.clobber && !o.noClobber
	b, refs, err := o.openRefs(ctx, g, args[0], false)
	if err != nil {
		return err
	}
	defer b.Close()
	if o.zip && !o.noZip {
		if len(refs) == 0 {
			fmt.Fprintln(g.stdout, "No datasets matched query.")
			return nil
		}
		zipPath, err := b.RetrieveArtifactsZip(ctx, refs, args[1], butler.RetrieveZipOptions{Overwrite: o.clobber})
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "Zip file written to %s\n", zipPath)
		return nil
	}
	paths, err := b.RetrieveArtifacts(ctx, refs, args[1], butler.RetrieveOptions{Transfer: o.transfer, PreservePath: !o.noPreservePath, Clobber: o.clobber})
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		fmt.Fprintln(g.stdout, "No datasets matched query.")
		return nil
	}
	if o.verbose {
		// As upstream: the artifacts as URIs, then a blank line.
		fmt.Fprintf(g.stdout, "Transferred the following to %s:\n", args[1])
		for _, p := range paths {
			if abs, err := filepath.Abs(p); err == nil {
				p = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
			}
			fmt.Fprintln(g.stdout, p)
		}
		fmt.Fprintln(g.stdout)
	}
	fmt.Fprintf(g.stdout, "Number of artifacts retrieved into destination %s: %d\n", args[1], len(paths))
	return nil
}
