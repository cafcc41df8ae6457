package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/gobutler/butler"
	"github.com/spf13/cobra"
)

type collectionChainOptions struct {
	doc     string
	flatten bool
	mode    string
}

func newCollectionChainCmd(g *globals) *cobra.Command {
	var o collectionChainOptions
	cmd := &cobra.Command{
		Use:   "collection-chain REPO PARENT [CHILDREN...]",
		Short: "Define or edit a CHAINED collection",
		Long: `Define or edit the CHAINED collection PARENT (created when missing) and print its children.
Modes: redefine (set the children), extend (append), prepend, remove (drop the named
children), pop (drop children at the given positions, default 0; negative positions count
from the end and need -- before them).`,
		Example: "  butler collection-chain REPO LSSTCam/defaults LSSTCam/raw/all LSSTCam/calib\n  butler collection-chain REPO --mode pop LSSTCam/defaults -- -1",
		Args:    cobra.MinimumNArgs(2),
		RunE:    func(c *cobra.Command, args []string) error { return runCollectionChain(c.Context(), g, o, args) },
	}
	cmd.Flags().StringVar(&o.doc, "doc", "", "documentation string for a chain created here")
	cmd.Flags().BoolVar(&o.flatten, "flatten", false, "replace CHAINED children by the collections they search")
	cmd.Flags().Bool("no-flatten", false, "keep CHAINED children as they are (default)")
	cmd.Flags().StringVar(&o.mode, "mode", "redefine", "redefine, extend, remove, prepend or pop")
	return cmd
}

func runCollectionChain(ctx context.Context, g *globals, o collectionChainOptions, args []string) error {
	opts := butler.ChainOptions{Mode: butler.ChainMode(strings.ToLower(o.mode)), Flatten: o.flatten, Doc: o.doc}
	children := splitList(args[2:])
	switch opts.Mode {
	case butler.ChainRedefine, butler.ChainExtend, butler.ChainPrepend, butler.ChainRemove:
	case butler.ChainPop:
		for _, c := range children {
			i, err := strconv.Atoi(c)
			if err != nil {
				return usagef("--mode pop takes integer positions, not %q", c)
			}
			opts.Pop = append(opts.Pop, i)
		}
		children = nil
	default:
		return usagef("--mode %q: want redefine, extend, remove, prepend or pop", o.mode)
	}
	b, err := g.open(ctx, args[0], true)
	if err != nil {
		return err
	}
	defer b.Close()
	kids, err := b.ChainCollections(ctx, args[1], children, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "[%s]\n", strings.Join(kids, ", "))
	return nil
}
