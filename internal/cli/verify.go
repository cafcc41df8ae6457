package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/errs"
	"github.com/spf13/cobra"
)

type verifyOptions struct {
	collections, types []string
	where              string
	checksums, orphans bool
	recordsOnly        bool
	repair, yes, purge bool
	processes          int
	format             string
}

// repairBatch is the number of problems repaired per registry transaction.
const repairBatch = 1000

func newVerifyCmd(g *globals) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify REPO",
		Short: "Check that the registry and the datastore agree; repair what does not",
		Long: `Check every file record against its artifact (it exists, with the recorded size; with
--checksums, with the recorded blake2b checksum; zip members are in their zip), and the
registry's tables against each other: datasets the datastore should hold without any file
record, file records without a dataset, rows left in the datastore trash. With --orphans,
also list the datastore for artifacts no record refers to (butler.yaml, the SQLite registry
and its journals are not artifacts). Links whose target is gone (symlink and relsymlink
ingests) and direct-ingested files that are gone are reported as their own kinds, since
the repository does not own those files.

--collections, --dataset-type and --where check only the datasets they select; the
repository-wide checks then do not run.

--repair shows what would be repaired; with --yes it repairs, one transaction per 1000
problems: a dataset whose artifact is lost is unstored (its records removed, its dataset
row kept, as prune-datasets --unstore) or, with --purge, removed entirely; an artifact
still there (corrupt, a broken link) and orphan artifacts are moved to
.butler-quarantine/<UTC time>/ under the datastore root, never deleted; records without a
dataset are removed; trash rows are emptied as the Python butler's emptyTrash does.
An interrupted repair is completed by running it again.

--format json prints JSON lines: one object per problem, then one {"summary": ...}.

Exit status: 0 clean (or every problem repaired), 1 problems found, 3 some items could not
be checked (storage unreachable, permission denied) and no other problem was found.`,
		Example: "  butler verify REPO --checksums --orphans -j 16\n  butler verify REPO --repair --yes",
		Args:    cobra.ExactArgs(1),
		RunE:    func(c *cobra.Command, args []string) error { return runVerify(c.Context(), g, o, args[0]) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.collections, "collections", nil, "collections to check (globs; comma-separated, repeatable); default every RUN")
	f.StringArrayVarP(&o.types, "dataset-type", "d", nil, "dataset types to check (globs; comma-separated, repeatable)")
	f.StringVar(&o.where, "where", "", "where expression selecting the datasets to check")
	f.BoolVar(&o.checksums, "checksums", false, "read every artifact with a recorded checksum and compare it")
	f.BoolVar(&o.orphans, "orphans", false, "also look for artifacts no record refers to")
	f.BoolVar(&o.recordsOnly, "records-only", false, "check only the registry's tables against each other; read no files")
	f.BoolVar(&o.repair, "repair", false, "show what would be repaired (with --yes: repair it)")
	f.BoolVar(&o.yes, "yes", false, "with --repair: repair")
	f.BoolVar(&o.purge, "purge", false, "with --repair: remove datasets whose artifacts are lost entirely instead of unstoring them")
	f.IntVarP(&o.processes, "processes", "j", 8, "artifacts checked at once")
	f.StringVar(&o.format, "format", "table", "output format: table (one line per problem) or json (JSON lines)")
	return cmd
}

func init() { extraCommands = append(extraCommands, newVerifyCmd) }

func runVerify(ctx context.Context, g *globals, o verifyOptions, repo string) error {
	switch {
	case o.format != "table" && o.format != "json":
		return usagef("--format %q: want table or json", o.format)
	case (o.yes || o.purge) && !o.repair:
		return usagef("--yes and --purge act only with --repair")
	case o.processes < 1:
		return usagef("--processes must be at least 1")
	}
	opts := butler.VerifyOptions{
		Collections: splitList(o.collections), DatasetTypes: splitList(o.types), Where: o.where,
		Checksums: o.checksums, Orphans: o.orphans, RecordsOnly: o.recordsOnly, Workers: o.processes, Stats: &butler.VerifyStats{},
	}
	if opts.Orphans && (len(opts.Collections) > 0 || len(opts.DatasetTypes) > 0 || strings.TrimSpace(opts.Where) != "") {
		return usagef("--orphans looks at the whole datastore; it cannot be combined with --collections, --dataset-type or --where")
	}
	if opts.RecordsOnly && (opts.Checksums || opts.Orphans) {
		return usagef("--records-only reads no files; it cannot be combined with --checksums or --orphans")
	}
	b, err := g.open(ctx, repo, o.repair && o.yes)
	if err != nil {
		return err
	}
	defer b.Close()
	rep, endBar := g.reporter()
	defer endBar()
	opts.Progress = rep
	// Problems to repair are spooled to a temporary file, so memory stays
	// bounded whatever their number, and repaired once the check is over.
	var spool *os.File
	var spoolW *bufio.Writer
	if o.repair {
		if spool, err = os.CreateTemp("", "butler-verify-*.jsonl"); err != nil {
			return err
		}
		defer os.Remove(spool.Name())
		defer spool.Close()
		spoolW = bufio.NewWriter(spool)
	}
	start := time.Now()
	counts := map[butler.ProblemKind]int{}
	total := 0
	enc := json.NewEncoder(g.stdout)
	for p, err := range b.Verify(ctx, opts) {
		if err != nil {
			return err
		}
		counts[p.Kind]++
		total++
		if o.format == "json" {
			if err := enc.Encode(p); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(g.stdout, problemLine(p))
		}
		if spoolW != nil && p.Kind != butler.ProblemUnchecked {
			line, err := json.Marshal(p)
			if err != nil {
				return err
			}
			spoolW.Write(append(line, '\n'))
		}
	}
	elapsed := time.Since(start)
	st := opts.Stats
	n, arts := st.Datasets.Load(), st.Artifacts.Load()
	rate := float64(n) / max(elapsed.Seconds(), 1e-9)
	var parts []string
	for _, k := range butler.ProblemKinds {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	found := total - counts[butler.ProblemUnchecked]
	summary := fmt.Sprintf("Checked %d record(s), %d artifact(s), %d byte(s) read, in %.2fs (%.0f records/s): ", n, arts, st.Bytes.Load(), elapsed.Seconds(), rate)
	if total == 0 {
		summary += "no problems."
	} else {
		summary += fmt.Sprintf("%d problem(s) (%s).", total, strings.Join(parts, ", "))
	}
	var res butler.RepairResult
	repaired := false
	if o.repair && found > 0 {
		if err := spoolW.Flush(); err != nil {
			return err
		}
		if res, err = repairSpool(ctx, b, spool, o); err != nil {
			return err
		}
		repaired = o.yes
	}
	if o.format == "json" {
		sum := map[string]any{"records": n, "artifacts": arts, "bytes_read": st.Bytes.Load(), "listed": st.Listed.Load(),
			"seconds": elapsed.Seconds(), "records_per_second": rate, "problems": total, "by_kind": counts}
		if o.repair {
			sum["repair"] = map[string]any{"dry_run": res.DryRun, "unstored": res.Unstored, "purged": res.Purged, "records_removed": res.RecordsRemoved,
				"trash_emptied": res.TrashEmptied, "quarantined": len(res.Quarantined), "deleted": res.Deleted,
				"quarantine": b.QuarantineURI(res.QuarantineDir)}
		}
		if err := enc.Encode(map[string]any{"summary": sum}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(g.stdout, summary)
		if o.repair && found > 0 {
			fmt.Fprintln(g.stdout, repairLine(b, res))
		}
	}
	switch {
	case found > 0 && !repaired:
		hint := " (butler verify --repair shows what a repair would do)"
		if o.repair {
			hint = " (run again with --yes to repair them)"
		}
		return fmt.Errorf("verify %s: %w: %d problem(s) found%s", repo, errs.ErrConflict, found, hint)
	case counts[butler.ProblemUnchecked] > 0:
		return &partialError{fmt.Sprintf("%d item(s) could not be checked", counts[butler.ProblemUnchecked])}
	}
	return nil
}

// repairSpool repairs the spooled problems, repairBatch at a time, all into
// one quarantine directory.
func repairSpool(ctx context.Context, b *butler.Butler, spool *os.File, o verifyOptions) (butler.RepairResult, error) {
	var res butler.RepairResult
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return res, err
	}
	opts := butler.RepairOptions{Yes: o.yes, Purge: o.purge, Quarantine: butler.DefaultQuarantine(time.Now())}
	dec := json.NewDecoder(bufio.NewReader(spool))
	var batch []butler.Problem
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		r, err := b.Repair(ctx, batch, opts)
		res.Add(r)
		batch = batch[:0]
		return err
	}
	for {
		var p butler.Problem
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return res, fmt.Errorf("read back the problems: %w", err)
		}
		batch = append(batch, p)
		if len(batch) == repairBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

// problemLine is one problem as the table format prints it.
func problemLine(p butler.Problem) string {
	var sb strings.Builder
	sb.WriteString(string(p.Kind))
	if p.DatasetType != "" {
		fmt.Fprintf(&sb, " %s@%s in %s", p.DatasetType, p.DataID, p.Run)
	}
	if p.ID != [16]byte{} {
		fmt.Fprintf(&sb, " (id %s)", p.ID)
	}
	if p.URI != "" {
		fmt.Fprintf(&sb, " %s", p.URI)
	}
	fmt.Fprintf(&sb, ": %s", p.Message)
	return sb.String()
}

func repairLine(b *butler.Butler, r butler.RepairResult) string {
	verb := "Repaired"
	if r.DryRun {
		verb = "Would repair (dry run; --yes repairs)"
	}
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf(what, n))
		}
	}
	add(r.Unstored, "unstore %d dataset(s)")
	add(r.Purged, "purge %d dataset(s)")
	add(r.RecordsRemoved, "remove %d record(s) without dataset")
	add(r.TrashEmptied, "empty %d trash row(s)")
	add(r.Deleted, "delete %d trashed artifact(s)")
	if len(r.Quarantined) > 0 {
		parts = append(parts, fmt.Sprintf("quarantine %d artifact(s) in %s", len(r.Quarantined), b.QuarantineURI(r.QuarantineDir)))
	}
	add(r.Skipped, "skip %d item(s)")
	if len(parts) == 0 {
		parts = append(parts, "nothing")
	}
	return verb + ": " + strings.Join(parts, ", ") + "."
}
