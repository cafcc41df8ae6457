package cli

import (
	"fmt"
	"strings"

	"github.com/gobutler/butler/internal/server"
	"github.com/spf13/cobra"
)

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token (create | list | revoke) --tokens FILE …",
		Short: "Make, list and revoke the access tokens of 'butler serve --auth tokens'",
		Long: `Manage the tokens file of 'butler serve --auth tokens'. A token is 32 random bytes
given to one user with their groups; the file keeps only its SHA-256 hash, so the token is
shown once, by 'token create', and cannot be recovered. A running server re-reads the file
when it changes: a revoked token stops working within a second.`,
		Args: cobra.NoArgs,
	}
	var file, user, id string
	var groups []string
	create := &cobra.Command{
		Use:   "create --tokens FILE --user USER --group GROUP [--group GROUP …]",
		Short: "Make a token for a user and print it (only this once)",
		Long: `Make a new random token for USER, a member of the groups given, store its hash in the
tokens file (created, mode 0600, if missing) and print the token alone on standard output.
Give it to the user: they set BUTLER_RUBIN_ACCESS_TOKEN to it. Its ID (the start of the
hash, for 'token revoke --id') goes to standard error.

Exit status: 0 success, 1 failure, 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if file == "" || user == "" {
				return usagef("token create: --tokens FILE and --user USER are required")
			}
			tok, t, err := server.CreateToken(file, user, groups)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, tok)
			fmt.Fprintf(g.stderr, "Token %s for %s (groups: %s) stored in %s\n", t.ID, t.User, strings.Join(t.Groups, ", "), file)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list --tokens FILE",
		Short: "List the tokens of a tokens file (IDs, users, groups; never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if file == "" {
				return usagef("token list: --tokens FILE is required")
			}
			toks, err := server.ReadTokens(file)
			if err != nil {
				return err
			}
			t := &table{cols: []string{"id", "user", "groups", "created"}, left: true}
			for _, tok := range toks {
				t.add(nil, tok.ID, tok.User, strings.Join(tok.Groups, ","), tok.Created.Format("2006-01-02T15:04:05Z"))
			}
			return render(g.stdout, "table", t)
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke --tokens FILE (--id ID | --user USER)",
		Short: "Revoke a token by ID, or all tokens of a user",
		Long: `Remove a token (--id, as 'token list' shows it) or every token of a user (--user)
from the tokens file. Servers reading the file refuse them within a second.

Exit status: 0 success, 1 failure (no such token), 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if file == "" || (id == "") == (user == "") {
				return usagef("token revoke: give --tokens FILE and one of --id ID and --user USER")
			}
			gone, err := server.RevokeTokens(file, id, user)
			if err != nil {
				return err
			}
			for _, t := range gone {
				fmt.Fprintf(g.stdout, "Revoked token %s of %s\n", t.ID, t.User)
			}
			return nil
		},
	}
	for _, sub := range []*cobra.Command{create, list, revoke} {
		sub.Flags().StringVar(&file, "tokens", "", "tokens file")
	}
	create.Flags().StringVar(&user, "user", "", "user the token is for")
	create.Flags().StringArrayVar(&groups, "group", nil, "group the user belongs to; repeatable")
	revoke.Flags().StringVar(&user, "user", "", "revoke every token of this user")
	revoke.Flags().StringVar(&id, "id", "", "revoke the token with this ID")
	cmd.AddCommand(create, list, revoke)
	return cmd
}
