package server

import (
	"sync"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
)

// recentFiles remembers, for ttl, the artifacts get_file has just read, so
// that the download of a URL it signed (which clients make right away)
// needs no database query. An entry is as fresh as the repository's search
// cache promises (Options.SearchCacheTTL); ttl <= 0 remembers nothing.
type recentFiles struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[dataset.ID]recentEntry
}

type recentEntry struct {
	arts []butler.Artifact
	at   time.Time
}

// maxRecentFiles bounds the entries; a full map first drops those expired,
// then everything (a burst of gets larger than this is not downloaded in a
// moment anyway).
const maxRecentFiles = 4096

func newRecentFiles(ttl time.Duration) *recentFiles {
	return &recentFiles{ttl: ttl, m: map[dataset.ID]recentEntry{}}
}

func (f *recentFiles) put(id dataset.ID, arts []butler.Artifact) {
	if f == nil || f.ttl <= 0 {
		return
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) >= maxRecentFiles {
		for k, e := range f.m {
			if now.Sub(e.at) > f.ttl {
				delete(f.m, k)
			}
		}
		if len(f.m) >= maxRecentFiles {
			clear(f.m)
		}
	}
	f.m[id] = recentEntry{arts: arts, at: now}
}

func (f *recentFiles) get(id dataset.ID) ([]butler.Artifact, bool) {
	if f == nil || f.ttl <= 0 {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[id]
	if !ok {
		return nil, false
	}
	if time.Since(e.at) > f.ttl {
		delete(f.m, id)
		return nil, false
	}
	return e.arts, true
}
