//go:build !linux

package sqldb

// localFS cannot tell here, so the safe rollback journal is kept.
func localFS(string) bool { return false }
