//go:build !linux

package butler_test

// cpuSeconds is not measured outside Linux.
func cpuSeconds() (self, children float64, ok bool) { return 0, 0, false }
