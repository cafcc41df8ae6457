package cli

import (
	"context"
	"fmt"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
)

type shareOptions struct {
	readOnly, readWrite, revoke bool
}

func newShareCmd(g *globals) *cobra.Command {
	var o shareOptions
	cmd := &cobra.Command{
		Use:   "share REPO ROLE (--read-only | --read-write | --revoke)",
		Short: "Grant a collaborator's database role access to a PostgreSQL repository, or revoke it",
		Long: `Grant a PostgreSQL role (a collaborator's database user) access to the repository's
registry schema: --read-only lets them query, --read-write lets them add and remove
collections, datasets and dataset types too. The grant covers the schema, every existing
table and sequence, and the tables created later, by you or by a read-write collaborator.
--revoke takes the access away. Run it as the schema's owner.

Collaborators also need the repository's butler.yaml and their own credentials in
~/.lsst/db-auth.yaml (or $LSST_DB_AUTH); never share yours.

Exit status: 0 success, 1 failure (not the owner, no such role, SQLite repository), 2 usage error.`,
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			return runShare(c.Context(), g, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.readOnly, "read-only", false, "grant read-only access")
	f.BoolVar(&o.readWrite, "read-write", false, "grant read and write access")
	f.BoolVar(&o.revoke, "revoke", false, "revoke all access")
	return cmd
}

func runShare(ctx context.Context, g *globals, o shareOptions, repo, role string) error {
	n := 0
	for _, set := range []bool{o.readOnly, o.readWrite, o.revoke} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usagef("share: give exactly one of --read-only, --read-write and --revoke")
	}
	access, what := butler.ShareRevoke, "Revoked the access of %s to %s\n"
	switch {
	case o.readOnly:
		access, what = butler.ShareReadOnly, "Granted %s read-only access to %s\n"
	case o.readWrite:
		access, what = butler.ShareReadWrite, "Granted %s read-write access to %s\n"
	}
	b, err := g.open(ctx, repo, true)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Share(ctx, role, access); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, what, role, repo)
	return nil
}
