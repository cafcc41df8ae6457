// Package cli is the butler command line: one file per command, each parsing its
// flags, calling the butler API and printing. Only cmd/butler imports it.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/errs"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit statuses.
const (
	ExitOK       = 0
	ExitError    = 1 // the command failed (bad input, missing data, conflict...)
	ExitUsage    = 2 // bad flags or arguments
	ExitPartial  = 3 // some items failed (ingest without --fail-fast)
	ExitCanceled = 130
)

// globals are the options before the subcommand and the writers commands print to.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	logLevels      []string
	longLog        bool
	logFiles       []string
	logLabels      []string
	logTTY         bool
	noLogTTY       bool
	progress       bool
	noProgress     bool
	log            *slog.Logger
	closers        []io.Closer
}

// Main runs the butler command line and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	if path := os.Getenv("BUTLER_CPUPROFILE"); path != "" {
		// For measuring the butler itself; not a user feature.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	root := newRootFor(g, args)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	for _, c := range g.closers {
		c.Close()
	}
	return exitCode(err, stderr)
}

func newRootCmd(g *globals) *cobra.Command {
	root := newRootBase(g)
	for _, c := range commands() {
		root.AddCommand(c.new(g))
	}
	for _, extra := range extraCommands {
		root.AddCommand(extra(g))
	}
	addOptionsFileFlag(root)
	return root
}

// newRootFor is the root command for args: with only the subcommand args run
// when that is one of commands (building all of them, with their flags, was
// a tenth of the CPU time of a short command such as create); with all of
// them otherwise (help, completion, an unknown command, no command).
func newRootFor(g *globals, args []string) *cobra.Command {
	// Stubs stand in for the subcommands, so that cobra finds the one args
	// name, skipping global flags and their values as it will when running.
	probe := newRootBase(g)
	for _, c := range commands() {
		probe.AddCommand(&cobra.Command{Use: c.name, Run: func(*cobra.Command, []string) {}})
	}
	target, _, err := probe.Find(args)
	if err != nil || target == probe || target.Parent() != probe {
		return newRootCmd(g)
	}
	for _, c := range commands() {
		if c.name == target.Name() {
			root := newRootBase(g)
			root.AddCommand(c.new(g))
			addOptionsFileFlag(root)
			return root
		}
	}
	return newRootCmd(g)
}

// commands are the subcommands, each with its name (the first word of its
// Use), so that Main can build just the one a command line runs.
func commands() []namedCommand {
	return []namedCommand{
		{"create", newCreateCmd},
		{"config-dump", newConfigDumpCmd},
		{"config-validate", newConfigValidateCmd},
		{"register-dataset-type", newRegisterDatasetTypeCmd},
		{"remove-dataset-type", newRemoveDatasetTypeCmd},
		{"query-dataset-types", newQueryDatasetTypesCmd},
		{"query-collections", newQueryCollectionsCmd},
		{"collection-chain", newCollectionChainCmd},
		{"remove-collections", newRemoveCollectionsCmd},
		{"remove-runs", newRemoveRunsCmd},
		{"associate", newAssociateCmd},
		{"prune-datasets", newPruneDatasetsCmd},
		{"query-datasets", newQueryDatasetsCmd},
		{"query-dimension-records", newQueryDimensionRecordsCmd},
		{"query-data-ids", newQueryDataIDsCmd},
		{"certify-calibrations", newCertifyCalibrationsCmd},
		{"ingest-files", newIngestFilesCmd},
		{"retrieve-artifacts", newRetrieveArtifactsCmd},
		{"ingest-zip", newIngestZipCmd},
		{"put", newPutCmd},
		{"get", newGetCmd},
		{"register-instrument", newRegisterInstrumentCmd},
		{"ingest-raws", newIngestRawsCmd},
		{"define-visits", newDefineVisitsCmd},
		{"update-exposures-from-raws", newUpdateExposuresFromRawsCmd},
		{"update-dimension-regions", newUpdateDimensionRegionsCmd},
		{"generate-raws", newGenerateRawsCmd},
		{"bench", newBenchCmd},
		{"share", newShareCmd},
		{"import", newImportCmd},
		{"export", newExportCmd},
		{"export-calibs", newExportCalibsCmd},
		{"transfer-datasets", newTransferDatasetsCmd},
		{"serve", newServeCmd},
		{"token", newTokenCmd},
	}
}

type namedCommand struct {
	name string
	new  func(*globals) *cobra.Command
}

// newRootBase is the root command with its flags and no subcommands.
func newRootBase(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "butler",
		Short: "Manage LSST data butler repositories",
		Long: `butler manages data butler repositories: a registry database describing every dataset
(SQLite or PostgreSQL) and a datastore holding the files (a directory or an S3 bucket),
compatible with lsst.daf.butler.

Exit status: 0 success, 1 failure, 2 usage error, 3 partial failure (some files failed), 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.setupLogging(); err != nil {
				return err
			}
			return applyOptionsFile(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.StringArrayVar(&g.logLevels, "log-level", nil, "log level (CRITICAL, ERROR, WARNING, INFO, VERBOSE, DEBUG, TRACE), or COMPONENT=LEVEL; repeatable")
	pf.BoolVar(&g.longLog, "long-log", false, "long log lines (time, level, component, source)")
	pf.StringArrayVar(&g.logFiles, "log-file", nil, "also append logs to this file (.json: JSON lines); repeatable")
	pf.StringArrayVar(&g.logLabels, "log-label", nil, "KEY=VALUE added to every log record (as upstream's MDC; keys upper-cased); comma-separated, repeatable")
	pf.BoolVar(&g.logTTY, "log-tty", true, "log to the terminal (standard error)")
	pf.BoolVar(&g.noLogTTY, "no-log-tty", false, "do not log to the terminal; only to --log-file")
	pf.BoolVar(&g.progress, "progress", false, "show progress bars on long work")
	pf.BoolVar(&g.noProgress, "no-progress", false, "never show progress bars")
	return root
}

// extraCommands are added by files of other features (instruments, ingest).
var extraCommands []func(*globals) *cobra.Command

// open opens a repository; write asks for a writeable registry.
func (g *globals) open(ctx context.Context, repo string, write bool) (*butler.Butler, error) {
	return butler.Open(ctx, repo, butler.OpenOptions{Writeable: write, Logger: g.log})
}

// showProgress reports whether progress bars should be drawn.
func (g *globals) showProgress() bool {
	if g.noProgress || !g.progress {
		return false
	}
	if f, ok := g.stderr.(*os.File); ok {
		return term.IsTerminal(int(f.Fd()))
	}
	return false
}

// usageError marks errors in the command line itself.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// partialError says some items failed while others succeeded.
type partialError struct{ msg string }

func (e *partialError) Error() string { return e.msg }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var ue *usageError
	var pe *partialError
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "butler: interrupted")
		return ExitCanceled
	case errors.As(err, &ue) || isCobraUsage(err):
		fmt.Fprintf(stderr, "butler: %v\nRun with --help for usage.\n", err)
		return ExitUsage
	case errors.As(err, &pe):
		fmt.Fprintf(stderr, "butler: %v\n", err)
		return ExitPartial
	}
	fmt.Fprintf(stderr, "butler: %v\n", err)
	// Syntax errors in a where expression point at the column.
	var ce interface{ Caret() string }
	if errors.As(err, &ce) {
		if c := ce.Caret(); c != "" {
			fmt.Fprintf(stderr, "  %s\n", strings.ReplaceAll(strings.TrimRight(c, "\n"), "\n", "\n  "))
		}
	}
	if !isKinded(err) {
		fmt.Fprintln(stderr, "(this looks like a bug in butler; please report it with the command you ran)")
	}
	return ExitError
}

func isKinded(err error) bool {
	for _, k := range []error{errs.ErrNotFound, errs.ErrConflict, errs.ErrInvalid, errs.ErrPermission, errs.ErrUnsupported, errs.ErrBusy, errs.ErrReadOnly} {
		if errors.Is(err, k) {
			return true
		}
	}
	var pathErr *os.PathError
	return errors.As(err, &pathErr)
}

func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "requires at most", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}
