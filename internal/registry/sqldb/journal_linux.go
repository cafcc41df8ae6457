//go:build linux

package sqldb

import "syscall"

// networkFS lists file-system magic numbers (statfs f_type) on which SQLite's
// WAL mode is unsafe: its shared-memory index needs one host's mmap.
var networkFS = map[int64]bool{
	0x6969:     true, // NFS
	0x517B:     true, // SMB
	0xFF534D42: true, // CIFS
	0xFE534D42: true, // SMB2
	0x47504653: true, // GPFS (Spectrum Scale)
	0x0BD00BD0: true, // Lustre
	0x00C36400: true, // CephFS
	0x65735546: true, // FUSE (sshfs, s3fs, ...)
	0x5346414F: true, // AFS
	0x19830326: true, // BeeGFS
	0xAAD7AAEA: true, // PanFS
}

// localFS reports whether dir is on a local file system.
func localFS(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return false
	}
	return !networkFS[int64(st.Type)]
}
