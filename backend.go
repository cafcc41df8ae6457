package butler

import (
	"context"
	"io"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry"
)

// backend is the one seam between a Butler's methods and where their
// answers come from, chosen at Open: local (the repository's own registry
// and datastore) or server (a remote repository's server, remote.go). A
// method of Butler is written once over it; the backend's methods are the
// operations whose two forms differ, grouped as the server protocol offers
// them. Writes go through writable, so that a server which accepts
// authenticated writes needs only its own writable (and write routes).
//
// The names differ from Butler's own methods on purpose: local and server
// embed *Butler, and a backend method missing from either must fail to
// compile rather than resolve to the Butler method that calls it.
type backend interface {
	// Dataset types (dataset_type, query_dataset_types).
	datasetType(ctx context.Context, name string) (dataset.Type, error)
	datasetTypes(ctx context.Context, patterns ...string) ([]dataset.Type, error)

	// Datasets (dataset/{id}, find_dataset).
	dataset(ctx context.Context, id dataset.ID) (dataset.Ref, error)
	find(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string) (dataset.Ref, error)

	// Collections (collection_info, query_collection_info).
	collection(ctx context.Context, name string) (*Collection, error)
	collections(ctx context.Context, patterns []string, types ...dataset.CollectionType) ([]*Collection, error)
	chain(ctx context.Context, parent string) ([]string, error)
	collectionTree(ctx context.Context, patterns []string, opts CollectionTreeOptions) (*CollectionTree, error)

	// Files (get_file and the URLs it hands out).
	artifacts(ctx context.Context, ids []dataset.ID) (map[dataset.ID][]Artifact, error)
	datasetArtifacts(ctx context.Context, id dataset.ID) (dataset.Ref, []Artifact, error)
	openArtifact(ctx context.Context, a Artifact, off int64) (io.ReadCloser, error)
	getRef(ctx context.Context, ref dataset.Ref) ([]byte, error)
	retrieveArtifacts(ctx context.Context, refs []dataset.Ref, dest string, opts RetrieveOptions) ([]string, error)

	// Queries (query/execute, query/all_datasets).
	searchDatasets(ctx context.Context, s DatasetSearch, fn func(dataset.Ref) error) error
	explainNoDatasets(ctx context.Context, s DatasetSearch) []string
	searchDataIDs(ctx context.Context, s DataIDSearch, fn func(dimensions.DataID) error) error
	searchRecords(ctx context.Context, s RecordSearch, fn func(dimensions.Record) error) error
	eachRecord(ctx context.Context, element string, fn func(dimensions.Record) error) error
	getRecord(ctx context.Context, e *dimensions.Element, id dimensions.DataID) (dimensions.Record, bool, error)

	// unsupported is nil, or the error of an operation this backend cannot do.
	unsupported(what string) error
	// writable is nil, or why the repository refuses writes.
	writable(what string) error
	close() error
}

// local is the backend of a repository opened by path: its registry and
// datastore. Its methods are in the files of the Butler methods they serve.
type local struct{ *Butler }

var (
	_ backend = local{}
	_ backend = server{}
)

func (b local) unsupported(string) error { return nil }

// fileRecords returns the datastore records of the datasets (a remote
// repository's as the server describes them, paths relative).
func (b *Butler) fileRecords(ctx context.Context, ids []dataset.ID) (map[dataset.ID][]registry.FileRecord, error) {
	arts, err := b.Artifacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[dataset.ID][]registry.FileRecord, len(arts))
	for id, as := range arts {
		for _, a := range as {
			out[id] = append(out[id], registry.FileRecord{DatasetID: id, Path: a.Path, Formatter: a.Formatter, StorageClass: a.StorageClass,
				Component: a.Component, Checksum: a.Checksum, FileSize: a.FileSize})
		}
	}
	return out, nil
}

// record reads one record of e by data ID.
func (b *Butler) record(ctx context.Context, e *dimensions.Element, id dimensions.DataID) (dimensions.Record, bool, error) {
	return b.be.getRecord(ctx, e, id)
}

func (b local) getRecord(ctx context.Context, e *dimensions.Element, id dimensions.DataID) (dimensions.Record, bool, error) {
	return b.reg.Record(ctx, e.Name, id)
}
