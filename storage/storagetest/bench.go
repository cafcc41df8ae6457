package storagetest

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// RunBenchmarks measures Put and Get of small and 8 MiB objects, reporting bytes per second
// through b.SetBytes so that drivers compare directly.
func RunBenchmarks(b *testing.B, h Harness) {
	for _, size := range []int{4 << 10, 8 << 20} {
		data := payload(1, size)
		name := fmt.Sprintf("size=%s", sizeName(size))
		b.Run("Put/"+name, func(b *testing.B) {
			be := h.New(b)
			b.Cleanup(func() { be.Close() })
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Cycle over a few keys, so both new objects and overwrites are timed.
				key := fmt.Sprintf("bench/put/%d", i%16)
				if err := be.Put(b.Context(), key, bytes.NewReader(data), int64(size)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run("Get/"+name, func(b *testing.B) {
			be := h.New(b)
			b.Cleanup(func() { be.Close() })
			if err := be.Put(b.Context(), "bench/get", bytes.NewReader(data), int64(size)); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				rc, err := be.Get(b.Context(), "bench/get", 0, -1)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
				rc.Close()
				if err != nil || n != int64(size) {
					b.Fatalf("Get read %d bytes, %v; want %d", n, err, size)
				}
			}
		})
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprint(n)
}
