package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/dataset"
)

// collectionInfo is GET v1/collection_info?name=&include_doc=&include_parents=.
// As upstream (response_model_exclude_unset), doc and parents are present
// only when asked for.
func (s *Server) collectionInfo(ctx context.Context, c *call) error {
	name := c.r.URL.Query().Get("name")
	withDoc, err := queryBool(c, "include_doc")
	if err != nil {
		return err
	}
	withParents, err := queryBool(c, "include_parents")
	if err != nil {
		return err
	}
	b := c.repo.b
	coll, err := b.Collection(ctx, name)
	if err != nil {
		return asUser(err, errMissingCollection)
	}
	children := []string{}
	if coll.Type == dataset.Chained {
		if children, err = b.Chain(ctx, name); err != nil {
			return err
		}
	}
	out := object{{"name", coll.Name}, {"type", int(coll.Type)}, {"children", children}}
	if withDoc {
		out = append(out, member{"doc", coll.Doc})
	}
	if withParents {
		parents, err := b.ParentChains(ctx, name)
		if err != nil {
			return err
		}
		if parents == nil {
			parents = []string{}
		}
		sort.Strings(parents)
		out = append(out, member{"parents", parents})
	}
	writeJSON(c.w, http.StatusOK, out)
	return nil
}

// collectionTypes reads the request's collection types (empty: all).
func collectionTypes(in []int) ([]dataset.CollectionType, error) {
	var out []dataset.CollectionType
	for _, t := range in {
		ct := dataset.CollectionType(t)
		if ct < dataset.Run || ct > dataset.Calibration {
			return nil, &httpError{status: errorStatus, detail: fmt.Sprintf("collection_types: %d is not a collection type (1 RUN, 2 TAGGED, 3 CHAINED, 4 CALIBRATION)", t)}
		}
		out = append(out, ct)
	}
	return out, nil
}

// searchCollections resolves collection patterns as upstream's
// resolve_wildcard: a matching chain is listed when includeChains, and
// replaced by its (recursively flattened) children when flatten; other
// collections are listed when their type is wanted. Each name once.
func searchCollections(ctx context.Context, b *butler.Butler, patterns []string, types []dataset.CollectionType, flatten, includeChains bool) ([]*butler.Collection, error) {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	matched, err := b.Collections(ctx, patterns)
	if err != nil {
		return nil, err
	}
	if slices.Contains(patterns, "*") || slices.Contains(patterns, "...") {
		// Every collection: in registry (creation) order, as upstream's
		// cached collection records list them.
		sort.SliceStable(matched, func(i, j int) bool { return matched[i].ID < matched[j].ID })
	}
	want := func(t dataset.CollectionType) bool { return len(types) == 0 || slices.Contains(types, t) }
	seen := map[string]bool{}
	var out []*butler.Collection
	var visit func(c *butler.Collection) error
	visit = func(c *butler.Collection) error {
		if seen[c.Name] {
			return nil
		}
		seen[c.Name] = true
		if c.Type != dataset.Chained {
			if want(c.Type) {
				out = append(out, c)
			}
			return nil
		}
		if includeChains && want(c.Type) {
			out = append(out, c)
		}
		if !flatten {
			return nil
		}
		children, err := b.Chain(ctx, c.Name)
		if err != nil {
			return err
		}
		for _, name := range children {
			child, err := b.Collection(ctx, name)
			if err != nil {
				return err
			}
			if err := visit(child); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range matched {
		if err := visit(c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// queryCollections is POST v1/query_collections.
func (s *Server) queryCollections(ctx context.Context, c *call) error {
	var req queryCollectionsRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	types, err := collectionTypes(req.CollectionTypes)
	if err != nil {
		return err
	}
	found, err := searchCollections(ctx, c.repo.b, req.Search, types, req.FlattenChains, req.IncludeChains)
	if err != nil {
		return asUser(err, errMissingCollection)
	}
	names := []string{}
	for _, f := range found {
		names = append(names, f.Name)
	}
	writeJSON(c.w, http.StatusOK, object{{"collections", names}})
	return nil
}

// queryCollectionInfo is POST v1/query_collection_info.
func (s *Server) queryCollectionInfo(ctx context.Context, c *call) error {
	var req queryCollectionInfoRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	types, err := collectionTypes(req.CollectionTypes)
	if err != nil {
		return err
	}
	b := c.repo.b
	found, err := searchCollections(ctx, b, req.Expression, types, req.FlattenChains, req.IncludeChains)
	if err != nil {
		return asUser(err, errMissingCollection)
	}
	infos := []collectionInfoJSON{}
	for _, f := range found {
		info := collectionInfoJSON{Name: f.Name, Type: int(f.Type), Children: []string{}}
		if req.IncludeDoc {
			info.Doc = f.Doc
		}
		if f.Type == dataset.Chained {
			if info.Children, err = b.Chain(ctx, f.Name); err != nil {
				return err
			}
		}
		if req.IncludeParents {
			if info.Parents, err = b.ParentChains(ctx, f.Name); err != nil {
				return err
			}
			if info.Parents == nil {
				info.Parents = []string{}
			}
			sort.Strings(info.Parents)
		}
		if req.IncludeSummary {
			dts, err := b.CollectionDatasetTypes(ctx, f.Name)
			if err != nil {
				return err
			}
			if req.SummaryDatasets != nil {
				dts = slices.DeleteFunc(dts, func(n string) bool { return !slices.Contains(req.SummaryDatasets, n) })
			}
			info.DatasetTypes = append([]string{}, dts...)
			sort.Strings(info.DatasetTypes)
		}
		infos = append(infos, info)
	}
	writeJSON(c.w, http.StatusOK, object{{"collections", infos}})
	return nil
}

// queryDatasetTypes is POST v1/query_dataset_types: the types matching the
// patterns, and the plain names (no wildcard) that match none.
func (s *Server) queryDatasetTypes(ctx context.Context, c *call) error {
	var req queryDatasetTypesRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	b := c.repo.b
	types, err := b.DatasetTypes(ctx, req.Search...)
	if err != nil {
		return asUser(err, errMissingType)
	}
	rows := []datasetTypeJSON{}
	have := map[string]bool{}
	for _, t := range types {
		rows = append(rows, datasetTypeOf(t))
		have[t.Name] = true
	}
	missing := []string{}
	for _, p := range req.Search {
		if !strings.ContainsAny(p, "*?[") && !have[p] {
			missing = append(missing, p)
		}
	}
	writeJSON(c.w, http.StatusOK, object{{"dataset_types", rows}, {"missing", missing}})
	return nil
}
