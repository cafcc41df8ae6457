package butler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/datastore"
	"github.com/gobutler/butler/internal/registry"
	"github.com/gobutler/butler/remote"
)

// A Butler opened from a server URL (https://HOST/api/butler/repo/LABEL, or
// http:// on loopback) is a remote repository: it has no registry or
// datastore of its own, and its backend (see backend.go) is a server, which
// sends each request through package remote. Writes fail with
// errs.ErrReadOnly: the protocol has no write routes yet. Methods that have
// no remote form yet fail with errs.ErrUnsupported (server.unsupported).

// server is the backend of a remote repository: package remote's client of
// the repository's server.
type server struct {
	*Butler
	remote *remote.Client
}

// IsRemote reports whether the repository is a server's (opened by URL).
func (b *Butler) IsRemote() bool {
	_, ok := b.be.(server)
	return ok
}

// openRemote opens the repository of a server.
func openRemote(ctx context.Context, ref string, opts OpenOptions) (*Butler, error) {
	if opts.Writeable {
		return nil, fmt.Errorf("open %s for writing: %w: a remote repository is read-only (writes go to a local repository)", ref, errs.ErrReadOnly)
	}
	c, err := remote.New(ctx, ref, remote.Options{})
	if err != nil {
		return nil, remoteOpenError(ref, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Butler{Root: c.URL(), Universe: c.Universe(), log: log}
	b.be = server{b, c}
	return b, nil
}

// remoteOpenError says in plain words why a server could not be used.
func remoteOpenError(ref string, err error) error {
	var se *remote.StatusError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &se) && se.Status == 401:
		return fmt.Errorf("remote repository %s: %w: the server wants a valid token: set BUTLER_RUBIN_ACCESS_TOKEN (or ACCESS_TOKEN) to one (`butler token create` on the server makes one)", ref, errs.ErrPermission)
	case errors.As(err, &se) && se.Status == 403:
		return fmt.Errorf("remote repository %s: %w: %s (a token of one of the repository's groups is needed)", ref, errs.ErrPermission, se.Detail)
	case errors.As(err, &se) && se.Status == 404:
		return fmt.Errorf("remote repository %s: %w: the server has no such repository (%s)", ref, errs.ErrNotFound, se.Detail)
	case errors.As(err, &oe), errors.As(err, &ne):
		return fmt.Errorf("remote repository %s: %w: cannot reach the server: %w", ref, errs.ErrBusy, err)
	}
	return fmt.Errorf("remote repository %s: %w", ref, err)
}

func (b server) close() error { return nil }

func (b server) writable(what string) error {
	return fmt.Errorf("%s: %w: %s is a read-only remote repository", what, errs.ErrReadOnly, b.Root)
}

// unsupported is the error of a method a remote repository cannot do yet.
func (b server) unsupported(what string) error {
	return fmt.Errorf("%s: %w through a remote repository (%s) yet", what, errs.ErrUnsupported, b.Root)
}

func (b server) datasetType(ctx context.Context, name string) (dataset.Type, error) {
	return b.remote.DatasetType(ctx, name)
}

func (b server) datasetTypes(ctx context.Context, patterns ...string) ([]dataset.Type, error) {
	return b.remote.DatasetTypes(ctx, patterns...)
}

func (b server) dataset(ctx context.Context, id dataset.ID) (dataset.Ref, error) {
	return b.remote.Dataset(ctx, id)
}

func (b server) find(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string) (dataset.Ref, error) {
	return b.remote.Find(ctx, typeName, dataID, collections)
}

// searchDatasets runs a dataset search on the server (query/all_datasets).
func (b server) searchDatasets(ctx context.Context, s DatasetSearch, fn func(dataset.Ref) error) error {
	switch {
	case s.CalibTime != nil:
		return b.unsupported("calibration lookups at a time")
	case len(s.OrderBy) > 0:
		return b.orderedDatasets(ctx, s, fn)
	}
	q := remote.DatasetQuery{Types: s.Types, Collections: s.Collections, Where: s.Where, Bind: s.Bind, DataID: s.DataID, FindFirst: s.FindFirst, Limit: s.Limit}
	for ref, err := range b.remote.Datasets(ctx, q) {
		if err != nil {
			return err
		}
		if err := fn(ref); err != nil {
			return err
		}
	}
	return nil
}

// files returns a dataset's files as artifacts (URI: where to read
// them, a signed URL).
func (b server) files(ctx context.Context, id dataset.ID) ([]Artifact, error) {
	files, err := b.remote.Files(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Artifact, len(files))
	for i, f := range files {
		out[i] = Artifact{DatasetID: id, Path: f.Path, URI: f.URL, Formatter: f.Formatter, StorageClass: f.StorageClass,
			Component: f.Component, Checksum: f.Checksum, FileSize: f.Size, auth: f.Auth}
	}
	return out, nil
}

func (b server) artifacts(ctx context.Context, ids []dataset.ID) (map[dataset.ID][]Artifact, error) {
	out := map[dataset.ID][]Artifact{}
	for _, id := range ids {
		arts, err := b.files(ctx, id)
		if err != nil {
			return nil, err
		}
		if len(arts) > 0 {
			out[id] = arts
		}
	}
	return out, nil
}

func (b server) datasetArtifacts(ctx context.Context, id dataset.ID) (dataset.Ref, []Artifact, error) {
	ref, err := b.remote.Dataset(ctx, id)
	if err != nil {
		return dataset.Ref{}, nil, err
	}
	arts, err := b.files(ctx, id)
	return ref, arts, err
}

func (b server) openArtifact(ctx context.Context, a Artifact, off int64) (io.ReadCloser, error) {
	return b.remote.OpenFile(ctx, remote.File{URL: a.URI, Auth: a.auth, Path: a.Path}, off)
}

// getRef downloads a dataset's one file.
func (b server) getRef(ctx context.Context, ref dataset.Ref) ([]byte, error) {
	if isComponent(ref.Type.Name) {
		return b.componentBytes(ctx, ref)
	}
	arts, err := b.files(ctx, ref.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case len(arts) == 0:
		return nil, fmt.Errorf("dataset %s: %w: it has no file in the datastore", ref, errs.ErrNotFound)
	case len(arts) > 1:
		return nil, fmt.Errorf("dataset %s: %w: it is stored as %d component files", ref, errs.ErrUnsupported, len(arts))
	}
	rc, err := b.openArtifact(ctx, arts[0], 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err == nil && arts[0].FileSize >= 0 && int64(len(data)) != arts[0].FileSize {
		return nil, fmt.Errorf("get %s: %w: integrity failure: %s holds %d bytes, the registry records %d", ref, errs.ErrInvalid, arts[0].Path, len(data), arts[0].FileSize)
	}
	return data, err
}

// retrieveArtifacts downloads the datasets' files under dest, by copy only.
func (b server) retrieveArtifacts(ctx context.Context, refs []dataset.Ref, dest string, opts RetrieveOptions) ([]string, error) {
	if opts.Transfer != "" && opts.Transfer != datastore.Auto && opts.Transfer != datastore.Copy {
		return nil, fmt.Errorf("transfer mode %q: %w for retrieving artifacts from a remote repository; use copy", opts.Transfer, errs.ErrUnsupported)
	}
	var out []string
	for _, ref := range uniqueRefs(refs) {
		arts, err := b.files(ctx, ref.ID)
		if err != nil {
			return out, err
		}
		for _, a := range arts {
			rel := a.Path
			if zip, member, ok := datastore.SplitZipMember(rel); ok {
				rel = path.Join(path.Dir(zip), member)
			}
			if !opts.PreservePath || !filepath.IsLocal(filepath.FromSlash(rel)) {
				// A path from the server never leaves dest.
				rel = path.Base(rel)
			}
			target := filepath.Join(dest, filepath.FromSlash(rel))
			if _, err := os.Stat(target); err == nil && !opts.Clobber {
				return out, fmt.Errorf("retrieve %s: %w: %s exists (use --clobber)", ref.ID, errs.ErrConflict, target)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return out, err
			}
			if err := b.download(ctx, a, target); err != nil {
				return out, fmt.Errorf("retrieve %s: %w", ref.ID, err)
			}
			out = append(out, target)
		}
	}
	return out, nil
}

// download writes an artifact of a remote repository to target (through a
// temporary file, so target is whole or absent).
func (b server) download(ctx context.Context, a Artifact, target string) error {
	rc, err := b.openArtifact(ctx, a, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	return writeWhole(target, rc, a.Path, a.FileSize)
}

// collectionTree builds the tree from the server's collection info.
// The server lists collections in registry order (creation), which stands
// in for the IDs a remote repository does not expose.
func (b server) collectionTree(ctx context.Context, patterns []string, opts CollectionTreeOptions) (*CollectionTree, error) {
	infos, err := b.remote.Collections(ctx, []string{"*"})
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*CollectionNode, len(infos))
	summary := map[int64][]string{}
	for i, c := range infos {
		n := &CollectionNode{Collection: &Collection{ID: int64(i + 1), Name: c.Name, Type: c.Type, Doc: c.Doc}}
		byName[c.Name] = n
		summary[n.ID] = c.DatasetTypes
	}
	sorted := slices.Clone(infos)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, c := range sorted { // by name, so parents come out by name too
		parent := byName[c.Name]
		for _, name := range c.Children {
			child, ok := byName[name]
			if !ok {
				continue
			}
			parent.Children = append(parent.Children, child)
			if !slices.Contains(child.Parents, parent) {
				child.Parents = append(child.Parents, parent)
			}
		}
	}
	t := &CollectionTree{all: len(patterns) == 0 || slices.Contains(patterns, "*") || slices.Contains(patterns, "...")}
	for _, c := range sorted {
		if len(opts.Types) > 0 && !slices.Contains(opts.Types, c.Type) {
			continue
		}
		if registry.MatchesCollection(patterns, c.Name) {
			t.Matched = append(t.Matched, byName[c.Name])
		}
	}
	if opts.DatasetTypes {
		for _, n := range byName {
			n.DatasetTypes = nodeDatasetTypes(n, summary, opts.ExcludeDatasetTypes)
		}
	}
	return t, nil
}

// collections lists the collections matching patterns and types.
func (b server) collections(ctx context.Context, patterns []string, types ...dataset.CollectionType) ([]*Collection, error) {
	infos, err := b.remote.Collections(ctx, patterns, types...)
	if err != nil {
		return nil, err
	}
	out := make([]*Collection, len(infos))
	for i, c := range infos {
		out[i] = &Collection{Name: c.Name, Type: c.Type, Doc: c.Doc}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// explainNoDatasets says why a search of a remote repository found
// nothing, as far as the server's dataset types and collection summaries
// tell.
func (b server) explainNoDatasets(ctx context.Context, s DatasetSearch) []string {
	types, err := b.remote.DatasetTypes(ctx, s.Types...)
	if err != nil {
		return []string{err.Error()}
	}
	if len(types) == 0 {
		all, _ := b.remote.DatasetTypes(ctx)
		var names []string
		for _, t := range all {
			names = append(names, t.Name)
		}
		return []string{fmt.Sprintf("No dataset type matches %s (registered: %s).", strings.Join(s.Types, ", "), orNone(registry.ClosestList(strings.Join(s.Types, ""), names)))}
	}
	if len(s.Collections) == 0 {
		return []string{"No collections were given to search (use --collections)."}
	}
	infos, err := b.remote.Collections(ctx, s.Collections)
	if err != nil {
		return []string{err.Error()}
	}
	if len(infos) == 0 {
		return []string{fmt.Sprintf("No collections match %s.", strings.Join(s.Collections, ", "))}
	}
	// The summaries of chains are those of what they search.
	held := map[string]bool{}
	var names []string
	for _, c := range infos {
		names = append(names, c.Name)
		for _, t := range c.DatasetTypes {
			held[t] = true
		}
	}
	searched := strings.Join(names, ", ")
	if len(names) > 5 {
		searched = strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	var why []string
	for _, t := range types {
		if !held[t.Name] {
			why = append(why, fmt.Sprintf("No %s datasets were ever put in the collections searched (%s).", t.Name, searched))
		}
	}
	return why
}

func (b server) collection(ctx context.Context, name string) (*Collection, error) {
	c, _, err := b.collectionInfo(ctx, name)
	return c, err
}

func (b server) chain(ctx context.Context, parent string) ([]string, error) {
	_, children, err := b.collectionInfo(ctx, parent)
	return children, err
}

// collectionInfo returns one collection of a remote repository and, for a
// chain, its children.
func (b server) collectionInfo(ctx context.Context, name string) (*Collection, []string, error) {
	infos, err := b.remote.Collections(ctx, []string{name})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range infos {
		if c.Name == name {
			return &Collection{Name: c.Name, Type: c.Type, Doc: c.Doc}, c.Children, nil
		}
	}
	return nil, nil, &dataset.MissingCollectionError{Name: name}
}

func (b server) getRecord(ctx context.Context, e *dimensions.Element, id dimensions.DataID) (dimensions.Record, bool, error) {
	key := dimensions.DataID{}
	for _, d := range e.Dimensions() {
		key[d.Name] = id[d.Name]
	}
	var out dimensions.Record
	found := false
	err := b.searchRecords(ctx, RecordSearch{Element: e.Name, DataID: key, Limit: 1}, func(r dimensions.Record) error {
		out, found = r, true
		return nil
	})
	return out, found, err
}

// openPath opens the file at path (as the server describes it) of
// one of the datasets.
func (b server) openPath(ctx context.Context, refs []dataset.Ref, p string) (io.ReadCloser, error) {
	for _, r := range refs {
		arts, err := b.files(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range arts {
			if a.Path == p {
				return b.openArtifact(ctx, a, 0)
			}
		}
	}
	return nil, fmt.Errorf("file %s of a remote repository: %w: the server no longer lists it", p, errs.ErrNotFound)
}

func (b server) eachRecord(ctx context.Context, element string, fn func(dimensions.Record) error) error {
	return b.searchRecords(ctx, RecordSearch{Element: element}, fn)
}
