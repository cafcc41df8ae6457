package registry

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gobutler/butler/dataset"
)

// CollectionGraph is every collection with every chain's children and,
// when asked for, each collection's summary dataset types: what a listing of
// the collection tree needs, read in a fixed number of queries (two, or
// three with the dataset types) however deep or wide the tree.
type CollectionGraph struct {
	// Collections are all collections, sorted by name as Collections sorts them.
	Collections []*Collection
	// Children maps a CHAINED collection's ID to its children's IDs, in
	// search order.
	Children map[int64][]int64
	// DatasetTypes maps a collection's ID to the names of the dataset types
	// its summary holds (unsorted; nil unless asked for). A chain's own
	// entry is empty: its types are those of the collections it searches.
	DatasetTypes map[int64][]string
}

// CollectionGraph reads the whole collection graph; withTypes adds the
// collection summaries' dataset types.
func (r *Registry) CollectionGraph(ctx context.Context, withTypes bool) (*CollectionGraph, error) {
	c := r.db.Conn()
	g := &CollectionGraph{Children: map[int64][]int64{}}
	rows, err := c.Query(ctx, "SELECT collection_id, name, type, doc FROM "+r.db.T("collection")+" ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		col := &Collection{}
		var typ int
		var doc sql.NullString
		if err := rows.Scan(&col.ID, &col.Name, &typ, &doc); err != nil {
			return nil, fmt.Errorf("list collections: %w", err)
		}
		col.Type, col.Doc = dataset.CollectionType(typ), doc.String
		g.Collections = append(g.Collections, col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	rows.Close()
	rows, err = c.Query(ctx, "SELECT parent, child FROM "+r.db.T("collection_chain")+" ORDER BY parent, position")
	if err != nil {
		return nil, fmt.Errorf("read collection chains: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var parent, child int64
		if err := rows.Scan(&parent, &child); err != nil {
			return nil, fmt.Errorf("read collection chains: %w", err)
		}
		g.Children[parent] = append(g.Children[parent], child)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read collection chains: %w", err)
	}
	rows.Close()
	if !withTypes {
		return g, nil
	}
	g.DatasetTypes = map[int64][]string{}
	rows, err = c.Query(ctx, "SELECT s.collection_id, t.name FROM "+r.db.T("collection_summary_dataset_type")+" s JOIN "+
		r.db.T("dataset_type")+" t ON t.id = s.dataset_type_id")
	if err != nil {
		return nil, fmt.Errorf("read collection summaries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("read collection summaries: %w", err)
		}
		g.DatasetTypes[id] = append(g.DatasetTypes[id], name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read collection summaries: %w", err)
	}
	return g, nil
}

// MatchesCollection reports whether a collection name matches any of the
// glob patterns as MatchCollections matches them (no patterns, "*" or "..."
// match everything).
func MatchesCollection(patterns []string, name string) bool { return matchAny(patterns, name) }
