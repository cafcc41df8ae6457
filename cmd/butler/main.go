// Command butler manages LSST data butler repositories.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/gobutler/butler/internal/cli"
)

func main() {
	deferGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// gcFreeHeap is how much a command allocates before its first garbage
// collection.
const gcFreeHeap = 64 << 20

// deferGC holds the garbage collector back until the process has used
// gcFreeHeap, then restores the usual settings: most commands end well
// before that, and collecting their start-up garbage (configuration,
// universe, SQL schema) was a tenth of their CPU time. GOGC or GOMEMLIMIT
// set by the user are left alone.
func deferGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	percent := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(gcFreeHeap)
	// The memory limit forces the first collection; the sentinel becomes
	// garbage in it, and its cleanup restores the settings.
	type sentinel struct{ _ [64]byte }
	// A command that chose its own settings meanwhile (serve) keeps them.
	runtime.AddCleanup(new(sentinel), func(struct{}) {
		if prev := debug.SetGCPercent(percent); prev != -1 {
			debug.SetGCPercent(prev)
		}
		if prev := debug.SetMemoryLimit(limit); prev != gcFreeHeap {
			debug.SetMemoryLimit(prev)
		}
	}, struct{}{})
}
