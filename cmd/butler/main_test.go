package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
	"time"
)

var sink []byte

// TestDeferGC: no collection before gcFreeHeap is allocated; after the
// first, the usual settings are back (a long command's heap stays bounded).
func TestDeferGC(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set")
	}
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	deferGC()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GC percent after deferGC = %d, want -1 (off)", p)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		for range 64 {
			sink = make([]byte, 1<<20) // 64 MiB of garbage per round
		}
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		if p == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent still %d after allocating past %d bytes", p, gcFreeHeap)
		}
		time.Sleep(time.Millisecond)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("memory limit = %d after the first collection, want none", l)
	}
}
