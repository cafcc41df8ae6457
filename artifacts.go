package butler

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
)

// Artifact is one stored file of a dataset, as the datastore's record
// describes it. It is what a server hands out (by dataset ID, never by a path
// a client gave).
type Artifact struct {
	DatasetID dataset.ID
	// Path is the record's path: relative to the datastore root, an absolute
	// URI (direct ingest), or <zip>#zip-path=<member>.
	Path string
	// URI is Path made absolute.
	URI                                          string
	Formatter, StorageClass, Component, Checksum string
	FileSize                                     int64 // -1 when unknown
	// auth is how a remote repository's file URL (URI) is read: "none"
	// for a signed URL, else with the token.
	auth string
}

// name is how messages name the artifact: its URI, or for a file of a
// server its path (the URI of a signed URL holds a credential).
func (a Artifact) name() string {
	if a.auth != "" {
		return a.Path
	}
	return a.URI
}

// Artifacts returns the stored files of the datasets (keyed by ID; a dataset
// without files has no entry), in the order the datastore records them.
func (b *Butler) Artifacts(ctx context.Context, ids []dataset.ID) (map[dataset.ID][]Artifact, error) {
	return b.be.artifacts(ctx, ids)
}

func (b local) artifacts(ctx context.Context, ids []dataset.ID) (map[dataset.ID][]Artifact, error) {
	recs, err := b.reg.FileRecords(ctx, b.ds.RecordsTable(), ids)
	if err != nil {
		return nil, err
	}
	out := make(map[dataset.ID][]Artifact, len(recs))
	for id, rs := range recs {
		for _, r := range rs {
			out[id] = append(out[id], b.artifactOf(r))
		}
	}
	return out, nil
}

// DatasetArtifacts returns the dataset with the given ID (an error wrapping
// errs.ErrNotFound when there is none) and its stored files, as Dataset and
// Artifacts do, with one database query fewer (a server's get_file).
func (b *Butler) DatasetArtifacts(ctx context.Context, id dataset.ID) (dataset.Ref, []Artifact, error) {
	return b.be.datasetArtifacts(ctx, id)
}

func (b local) datasetArtifacts(ctx context.Context, id dataset.ID) (dataset.Ref, []Artifact, error) {
	ref, recs, err := b.reg.DatasetFiles(ctx, id, b.ds.RecordsTable())
	if err != nil {
		return dataset.Ref{}, nil, err
	}
	if ref == nil {
		return dataset.Ref{}, nil, fmt.Errorf("dataset %s: %w", id, errs.ErrNotFound)
	}
	arts := make([]Artifact, len(recs))
	for i, r := range recs {
		arts[i] = b.artifactOf(r)
	}
	return *ref, arts, nil
}

// artifactOf is the Artifact of a file record.
func (b local) artifactOf(r registry.FileRecord) Artifact {
	return Artifact{
		DatasetID: r.DatasetID, Path: r.Path, URI: b.ds.URI(r.Path),
		Formatter: r.Formatter, StorageClass: r.StorageClass, Component: r.Component,
		Checksum: r.Checksum, FileSize: r.FileSize,
	}
}

// OpenArtifact reads an artifact from byte off to its end.
func (b *Butler) OpenArtifact(ctx context.Context, a Artifact, off int64) (io.ReadCloser, error) {
	return b.be.openArtifact(ctx, a, off)
}

func (b local) openArtifact(ctx context.Context, a Artifact, off int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("read %s: %w: negative offset %d", a.URI, errs.ErrInvalid, off)
	}
	if _, _, member := datastore.SplitZipMember(a.Path); member || datastore.IsURI(a.Path) {
		if p, ok := strings.CutPrefix(a.Path, "file://"); ok && !member {
			f, err := os.Open(p)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", a.URI, err)
			}
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				f.Close()
				return nil, fmt.Errorf("read %s: %w", a.URI, err)
			}
			return f, nil
		}
		rc, err := b.ds.Open(ctx, a.Path)
		if err != nil {
			return nil, err
		}
		if _, err := io.CopyN(io.Discard, rc, off); err != nil && err != io.EOF {
			rc.Close()
			return nil, fmt.Errorf("read %s: %w", a.URI, err)
		}
		return rc, nil
	}
	return b.ds.Backend.Get(ctx, a.Path, off, -1)
}

// ArtifactSize returns the size of an artifact in bytes: the recorded size,
// or the stored file's when none is recorded.
func (b *Butler) ArtifactSize(ctx context.Context, a Artifact) (int64, error) {
	if a.FileSize >= 0 {
		return a.FileSize, nil
	}
	if err := b.be.unsupported("sizing a file without a recorded size"); err != nil {
		return 0, err
	}
	return b.ds.Size(ctx, a.Path)
}

// presigner is a storage backend that can make credential-free read URLs.
type presigner interface {
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// PresignArtifact returns an HTTP(S) URL that reads the artifact with a plain
// GET until ttl has passed. Datastores that cannot sign URLs (local files,
// zip members, direct-ingested URIs) give an error wrapping errs.ErrUnsupported.
func (b *Butler) PresignArtifact(ctx context.Context, a Artifact, ttl time.Duration) (string, error) {
	if err := b.be.unsupported("signing file URLs"); err != nil {
		return "", err
	}
	p, ok := b.ds.Backend.(presigner)
	if _, _, member := datastore.SplitZipMember(a.Path); !ok || member || datastore.IsURI(a.Path) {
		return "", fmt.Errorf("presign %s: %w: the datastore cannot sign URLs for this file", a.URI, errs.ErrUnsupported)
	}
	return p.PresignGet(ctx, a.Path, ttl)
}

// ExpandDataID completes a data ID of the dimensions dims (dimension keys, or
// record fields as Find accepts them) with its implied dimensions and returns
// the records of the group's elements, keyed by element name.
func (b *Butler) ExpandDataID(ctx context.Context, dims []string, id dimensions.DataID) (dimensions.DataID, map[string]dimensions.Record, error) {
	if err := b.be.unsupported("expanding data IDs"); err != nil {
		return nil, nil, err
	}
	g, err := b.Universe.Group(dims...)
	if err != nil {
		return nil, nil, err
	}
	if id, err = b.rewriteDataID(ctx, g, false, id); err != nil {
		return nil, nil, err
	}
	if id, err = b.Universe.Normalize(g, id); err != nil {
		return nil, nil, err
	}
	return b.reg.Expand(ctx, g, id)
}

// SetConnectionPool sizes the registry's database connection pool for a
// long-running process that serves many requests at once: at most open
// connections, idle of them kept open between requests (0 keeps a default).
func (b *Butler) SetConnectionPool(open, idle int) {
	if b.reg != nil { // a remote repository has no database of its own
		b.reg.SetPool(open, idle)
	}
}

// WarmConnectionPool opens n database connections now and keeps them idle in
// the pool (see SetConnectionPool), so that a server's first requests find
// them open. A remote repository has none to open.
func (b *Butler) WarmConnectionPool(ctx context.Context, n int) error {
	if b.reg == nil {
		return nil
	}
	return b.reg.WarmPool(ctx, n)
}

// SetSearchCache keeps, for ttl, what a dataset search resolves before it
// reads datasets (collections, chains, summaries), for a long-running
// read-only process such as a server: a change another process makes to
// chains or summaries is seen at most ttl late. 0 turns it off (the
// default).
func (b *Butler) SetSearchCache(ttl time.Duration) {
	if b.reg != nil {
		b.reg.SetSearchCache(ttl)
	}
}

// writeWhole copies r to target through a temporary file beside it, so target
// is either whole or untouched. When want is not negative, a copy of any other
// length is refused (naming the artifact's path) and leaves nothing behind.
func writeWhole(target string, r io.Reader, name string, want int64) error {
	tmp := target + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	n, err := f.ReadFrom(r)
	if err == nil && want >= 0 && n != want {
		err = fmt.Errorf("%w: %s: got %d bytes, the registry records %d", errs.ErrInvalid, name, n, want)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
