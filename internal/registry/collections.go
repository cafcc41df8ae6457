package registry

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// Collection is one collection record.
type Collection struct {
	ID   int64
	Name string
	Type dataset.CollectionType
	Doc  string
}

func validateCollectionName(name string) error {
	if name == "" || len(name) > dataset.MaxCollectionName {
		return fmt.Errorf("collection name %q: %w: must be 1 to %d characters", name, errs.ErrInvalid, dataset.MaxCollectionName)
	}
	if strings.ContainsAny(name, "*?[],") {
		return fmt.Errorf("collection name %q: %w: may not contain glob characters or commas", name, errs.ErrInvalid)
	}
	return nil
}

// registerCollection makes a collection of the given type if it does not exist.
// It reports whether it was created; an existing one of another type is a conflict.
func (r *Registry) registerCollection(ctx context.Context, c sqldb.Conn, name string, typ dataset.CollectionType, doc string) (bool, error) {
	if err := validateCollectionName(name); err != nil {
		return false, err
	}
	if existing, err := r.lookupCollection(ctx, c, name); err == nil {
		if existing.Type != typ {
			return false, fmt.Errorf("register collection %q as %s: %w: it exists as %s", name, typ, errs.ErrConflict, existing.Type)
		}
		return false, nil
	} else if !errorsIsNotFound(err) {
		return false, err
	}
	var docArg any
	if doc != "" {
		docArg = doc
	}
	idCol, idVal := r.db.AutoID("collection", "collection_id")
	var id int64
	if err := c.QueryRow(ctx, "INSERT INTO "+r.db.T("collection")+" ("+idCol+"name, type, doc) VALUES ("+idVal+"?, ?, ?) RETURNING collection_id", name, int(typ), docArg).Scan(&id); err != nil {
		return false, fmt.Errorf("register collection %q: %w", name, err)
	}
	if typ == dataset.Run {
		if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T("run")+" (collection_id) VALUES (?)", id); err != nil {
			return false, fmt.Errorf("register run %q: %w", name, err)
		}
	}
	return true, nil
}

// registerRun makes a RUN collection if it does not exist.
func (r *Registry) registerRun(ctx context.Context, c sqldb.Conn, name, doc string) (bool, error) {
	return r.registerCollection(ctx, c, name, dataset.Run, doc)
}

// Collection returns the named collection.
func (r *Registry) Collection(ctx context.Context, name string) (*Collection, error) {
	return r.lookupCollection(ctx, r.db.Conn(), name)
}

func (r *Registry) lookupCollection(ctx context.Context, c sqldb.Conn, name string) (*Collection, error) {
	// Always read the database: another client may have removed or re-created the
	// collection (SQLite may even reuse its ID), and an indexed lookup is cheap.
	col := &Collection{Name: name}
	var doc sql.NullString
	var typ int
	err := c.QueryRow(ctx, "SELECT collection_id, type, doc FROM "+r.db.T("collection")+" WHERE name = ?", name).Scan(&col.ID, &typ, &doc)
	if sqldb.IsNoRows(err) {
		return nil, &dataset.MissingCollectionError{Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("look up collection %q: %w", name, err)
	}
	col.Type, col.Doc = dataset.CollectionType(typ), doc.String
	return col, nil
}

func (r *Registry) collectionByID(ctx context.Context, c sqldb.Conn, id int64) (*Collection, error) {
	col := &Collection{ID: id}
	var doc sql.NullString
	var typ int
	err := c.QueryRow(ctx, "SELECT name, type, doc FROM "+r.db.T("collection")+" WHERE collection_id = ?", id).Scan(&col.Name, &typ, &doc)
	if err != nil {
		return nil, fmt.Errorf("look up collection #%d: %w", id, err)
	}
	col.Type, col.Doc = dataset.CollectionType(typ), doc.String
	return col, nil
}

// Collections lists all collections sorted by name.
func (r *Registry) Collections(ctx context.Context) ([]*Collection, error) {
	rows, err := r.db.Conn().Query(ctx, "SELECT collection_id, name, type, doc FROM "+r.db.T("collection")+" ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	var out []*Collection
	for rows.Next() {
		c := &Collection{}
		var typ int
		var doc sql.NullString
		if err := rows.Scan(&c.ID, &c.Name, &typ, &doc); err != nil {
			return nil, err
		}
		c.Type, c.Doc = dataset.CollectionType(typ), doc.String
		out = append(out, c)
	}
	return out, rows.Err()
}

// MatchCollections returns collections whose names match any of the glob patterns
// (all when patterns is empty or holds "*"), restricted to the given types (all when empty).
func (r *Registry) MatchCollections(ctx context.Context, patterns []string, types ...dataset.CollectionType) ([]*Collection, error) {
	all, err := r.Collections(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Collection
	for _, c := range all {
		if len(types) > 0 && !hasType(types, c.Type) {
			continue
		}
		if matchAny(patterns, c.Name) {
			out = append(out, c)
		}
	}
	return out, nil
}

func hasType(ts []dataset.CollectionType, t dataset.CollectionType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// matchAny reports whether name matches any glob (fnmatch-style); no patterns
// or "..." match everything.
func matchAny(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p == "..." || p == "*" {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
		if p == name {
			return true
		}
	}
	return false
}

// IsGlob reports whether s holds glob characters.
func IsGlob(s string) bool { return strings.ContainsAny(s, "*?[") || s == "..." }

// Chain returns the children of a CHAINED collection, in order.
func (r *Registry) Chain(ctx context.Context, parent string) ([]string, error) {
	return r.chain(ctx, r.db.Conn(), parent)
}

// chainIn is Chain read through c (inside a transaction).
func (r *Registry) chainIn(ctx context.Context, c sqldb.Conn, parent string) ([]string, error) {
	return r.chain(ctx, c, parent)
}

func (r *Registry) chain(ctx context.Context, c sqldb.Conn, parent string) ([]string, error) {
	p, err := r.lookupCollection(ctx, c, parent)
	if err != nil {
		return nil, err
	}
	kids, err := r.chainRecords(ctx, c, p)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range kids {
		out = append(out, k.Name)
	}
	return out, nil
}

// chainRecords returns the children of the chain p, in order, with their records.
func (r *Registry) chainRecords(ctx context.Context, c sqldb.Conn, p *Collection) ([]*Collection, error) {
	if p.Type != dataset.Chained {
		return nil, fmt.Errorf("collection %q: %w: is %s, not CHAINED", p.Name, errs.ErrInvalid, p.Type)
	}
	rows, err := c.Query(ctx, "SELECT c.collection_id, c.name, c.type, c.doc FROM "+r.db.T("collection_chain")+" ch JOIN "+r.db.T("collection")+
		" c ON c.collection_id = ch.child WHERE ch.parent = ? ORDER BY ch.position", p.ID)
	if err != nil {
		return nil, fmt.Errorf("read chain %q: %w", p.Name, err)
	}
	defer rows.Close()
	var out []*Collection
	for rows.Next() {
		col := &Collection{}
		var doc sql.NullString
		var typ int
		if err := rows.Scan(&col.ID, &col.Name, &typ, &doc); err != nil {
			return nil, err
		}
		col.Type, col.Doc = dataset.CollectionType(typ), doc.String
		out = append(out, col)
	}
	return out, rows.Err()
}

// ParentChains returns the CHAINED collections that directly hold name.
func (r *Registry) ParentChains(ctx context.Context, name string) ([]string, error) {
	col, err := r.Collection(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := r.db.Conn().Query(ctx, "SELECT DISTINCT c.name FROM "+r.db.T("collection_chain")+" ch JOIN "+r.db.T("collection")+
		" c ON c.collection_id = ch.parent WHERE ch.child = ? ORDER BY c.name", col.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// setChain replaces the children of a CHAINED collection. With flatten, CHAINED
// children are replaced by their flattened leaves. Duplicates keep the first position.
func (r *Registry) setChain(ctx context.Context, c sqldb.Conn, parent string, children []string, flatten bool) error {
	p, err := r.lookupCollection(ctx, c, parent)
	if err != nil {
		return err
	}
	if p.Type != dataset.Chained {
		return fmt.Errorf("collection %q: %w: is %s, not CHAINED", parent, errs.ErrInvalid, p.Type)
	}
	if flatten {
		flat, err := r.flatten(ctx, c, children, nil)
		if err != nil {
			return err
		}
		children = flat
	}
	seen := map[string]bool{}
	var ids []int64
	for _, ch := range children {
		if seen[ch] {
			continue
		}
		seen[ch] = true
		col, err := r.lookupCollection(ctx, c, ch)
		if err != nil {
			return fmt.Errorf("chain %q: %w", parent, err)
		}
		if ch == parent {
			return &dataset.CollectionCycleError{Parent: parent, Child: ch}
		}
		if col.Type == dataset.Chained {
			leaves, err := r.flatten(ctx, c, []string{ch}, map[string]bool{})
			if err != nil {
				return err
			}
			for _, l := range leaves {
				if l == parent {
					return &dataset.CollectionCycleError{Parent: parent, Child: ch}
				}
			}
			if r.chainContains(ctx, c, ch, parent) {
				return &dataset.CollectionCycleError{Parent: parent, Child: ch}
			}
		}
		ids = append(ids, col.ID)
	}
	if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("collection_chain")+" WHERE parent = ?", p.ID); err != nil {
		return fmt.Errorf("update chain %q: %w", parent, err)
	}
	for i, id := range ids {
		if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T("collection_chain")+" (parent, position, child) VALUES (?, ?, ?)", p.ID, i, id); err != nil {
			return fmt.Errorf("update chain %q: %w", parent, err)
		}
	}
	return nil
}

// chainContains reports whether chain name (transitively) contains target.
func (r *Registry) chainContains(ctx context.Context, c sqldb.Conn, name, target string) bool {
	kids, err := r.chain(ctx, c, name)
	if err != nil {
		return false
	}
	for _, k := range kids {
		if k == target {
			return true
		}
		if col, err := r.lookupCollection(ctx, c, k); err == nil && col.Type == dataset.Chained && r.chainContains(ctx, c, k, target) {
			return true
		}
	}
	return false
}

// Flatten expands CHAINED collections depth-first into the ordered list of
// non-chained collections searched, without duplicates.
func (r *Registry) Flatten(ctx context.Context, names []string) ([]string, error) {
	return r.flatten(ctx, r.db.Conn(), names, nil)
}

func (r *Registry) flatten(ctx context.Context, c sqldb.Conn, names []string, visiting map[string]bool) ([]string, error) {
	cols, err := r.flattenRecords(ctx, c, names, visiting)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, col := range cols {
		out = append(out, col.Name)
	}
	return out, nil
}

// flattenRecords is flatten returning the collections' records. Each chain
// costs one query, which also reads its children's records (a find through
// a chain of k runs used to look up every collection two or three times).
func (r *Registry) flattenRecords(ctx context.Context, c sqldb.Conn, names []string, visiting map[string]bool) ([]*Collection, error) {
	if visiting == nil {
		visiting = map[string]bool{}
	}
	var out []*Collection
	seen := map[string]bool{}
	var walk func(*Collection) error
	walk = func(col *Collection) error {
		n := col.Name
		if col.Type != dataset.Chained {
			if !seen[n] {
				seen[n] = true
				out = append(out, col)
			}
			return nil
		}
		if visiting[n] {
			return &dataset.CollectionCycleError{Parent: n, Child: n}
		}
		visiting[n] = true
		defer delete(visiting, n)
		kids, err := r.chainRecords(ctx, c, col)
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := walk(k); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		col, err := r.lookupCollection(ctx, c, n)
		if err != nil {
			return nil, err
		}
		if err := walk(col); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setDoc sets a collection's documentation string.
func (r *Registry) setDoc(ctx context.Context, c sqldb.Conn, name, doc string) error {
	col, err := r.lookupCollection(ctx, c, name)
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "UPDATE "+r.db.T("collection")+" SET doc = ? WHERE collection_id = ?", doc, col.ID); err != nil {
		return err
	}
	return nil
}

// removeCollection deletes a non-RUN collection (its associations go with it).
// A collection still in a chain is refused unless removeFromParents.
func (r *Registry) removeCollection(ctx context.Context, c sqldb.Conn, name string, removeFromParents bool) error {
	col, err := r.lookupCollection(ctx, c, name)
	if err != nil {
		return err
	}
	if err := r.checkParents(ctx, c, col, removeFromParents); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("collection")+" WHERE collection_id = ?", col.ID); err != nil {
		return fmt.Errorf("remove collection %q: %w", name, err)
	}
	return nil
}

func (r *Registry) checkParents(ctx context.Context, c sqldb.Conn, col *Collection, unlink bool) error {
	rows, err := c.Query(ctx, "SELECT DISTINCT p.name FROM "+r.db.T("collection_chain")+" ch JOIN "+r.db.T("collection")+" p ON p.collection_id = ch.parent WHERE ch.child = ?", col.ID)
	if err != nil {
		return err
	}
	var parents []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		parents = append(parents, n)
	}
	rows.Close()
	if len(parents) == 0 {
		return nil
	}
	if !unlink {
		sort.Strings(parents)
		return fmt.Errorf("remove collection %q: %w: it is a child of chain(s) %s; remove it from them first or unlink it", col.Name, errs.ErrConflict, strings.Join(parents, ", "))
	}
	for _, p := range parents {
		kids, err := r.chain(ctx, c, p)
		if err != nil {
			return err
		}
		var keep []string
		for _, k := range kids {
			if k != col.Name {
				keep = append(keep, k)
			}
		}
		if err := r.setChain(ctx, c, p, keep, false); err != nil {
			return err
		}
	}
	return nil
}
