package butler

import "github.com/gobutler/butler/storage"

// DatastoreBackend returns the datastore's storage backend, for tests that
// damage a repository behind the butler's back.
func DatastoreBackend(b *Butler) storage.Backend { return b.ds.Backend }
