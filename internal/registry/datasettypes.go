package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

func errorsIsNotFound(err error) bool { return errors.Is(err, errs.ErrNotFound) }

// loadTypes reads every dataset type once; registrations keep the cache current.
func (r *Registry) loadTypes(ctx context.Context, c sqldb.Conn) error {
	r.mu.Lock()
	loaded := r.typesLoaded
	r.mu.Unlock()
	if loaded {
		return nil
	}
	rows, err := c.Query(ctx, "SELECT id, name, storage_class, dimensions_key, tag_association_table, calibration_association_table FROM "+r.db.T("dataset_type"))
	if err != nil {
		return fmt.Errorf("read dataset types: %w", err)
	}
	var sts []*storedType
	for rows.Next() {
		st := &storedType{}
		var cal sql.NullString
		if err := rows.Scan(&st.id, &st.Name, &st.StorageClass, &st.dimKey, &st.tagTable, &cal); err != nil {
			rows.Close()
			return err
		}
		st.calTable, st.IsCalibration = cal.String, cal.Valid && cal.String != ""
		sts = append(sts, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	groups := map[int64]dimensions.Group{}
	for _, st := range sts {
		g, ok := groups[st.dimKey]
		if !ok {
			if g, err = r.readGroup(ctx, c, st.dimKey); err != nil {
				return err
			}
			groups[st.dimKey] = g
		}
		st.Dimensions = g
	}
	r.mu.Lock()
	for _, st := range sts {
		r.types[st.Name] = st
	}
	r.typesLoaded = true
	r.mu.Unlock()
	return nil
}

func (r *Registry) readGroup(ctx context.Context, c sqldb.Conn, key int64) (dimensions.Group, error) {
	if key == 0 {
		return r.Universe.Group()
	}
	rows, err := c.Query(ctx, "SELECT dimension_name FROM "+r.db.T("dimension_graph_definition")+" WHERE dimension_graph_id = ?", key)
	if err != nil {
		return dimensions.Group{}, fmt.Errorf("read dimension group %d: %w", key, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return dimensions.Group{}, err
		}
		names = append(names, n)
	}
	return r.Universe.Group(names...)
}

// groupKey returns (making when missing) the dimension_graph_key of a group.
func (r *Registry) groupKey(ctx context.Context, c sqldb.Conn, g dimensions.Group) (int64, error) {
	names := g.RequiredNames()
	if len(names) == 0 {
		return 0, nil
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	k := strings.Join(sorted, ",")
	r.mu.Lock()
	key, ok := r.groupKeys[k]
	r.mu.Unlock()
	if ok {
		return key, nil
	}
	// Find an existing key with exactly these dimensions.
	rows, err := c.Query(ctx, "SELECT dimension_graph_id, dimension_name FROM "+r.db.T("dimension_graph_definition"))
	if err != nil {
		return 0, err
	}
	existing := map[int64][]string{}
	for rows.Next() {
		var id int64
		var n string
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return 0, err
		}
		existing[id] = append(existing[id], n)
	}
	rows.Close()
	for id, ns := range existing {
		sort.Strings(ns)
		if strings.Join(ns, ",") == k {
			r.mu.Lock()
			r.groupKeys[k] = id
			r.mu.Unlock()
			return id, nil
		}
	}
	// RETURNING (SQLite >= 3.35 and PostgreSQL) gives this transaction's own key,
	// where max(id) could see another client's.
	ins := "INSERT INTO " + r.db.T("dimension_graph_key") + " DEFAULT VALUES RETURNING id"
	if idCol, idVal := r.db.AutoID("dimension_graph_key", "id"); idCol != "" {
		ins = "INSERT INTO " + r.db.T("dimension_graph_key") + " (" + strings.TrimSuffix(idCol, ", ") + ") VALUES (" + strings.TrimSuffix(idVal, ", ") + ") RETURNING id"
	}
	if err := c.QueryRow(ctx, ins).Scan(&key); err != nil {
		return 0, fmt.Errorf("save dimension group %s: %w", g, err)
	}
	for _, n := range names {
		if _, err := c.Exec(ctx, "INSERT INTO "+r.db.T("dimension_graph_definition")+" (dimension_graph_id, dimension_name) VALUES (?, ?)", key, n); err != nil {
			return 0, fmt.Errorf("save dimension group %s: %w", g, err)
		}
	}
	r.mu.Lock()
	r.groupKeys[k] = key
	r.mu.Unlock()
	return key, nil
}

// DatasetType returns a registered dataset type (a component name gives its parent's
// definition with the component name).
func (r *Registry) DatasetType(ctx context.Context, name string) (dataset.Type, error) {
	st, err := r.storedType(ctx, r.db.Conn(), name)
	if err != nil {
		return dataset.Type{}, err
	}
	t := st.Type
	t.Name = name
	return t, nil
}

func (r *Registry) storedType(ctx context.Context, c sqldb.Conn, name string) (*storedType, error) {
	parent, _ := dataset.SplitComponent(name)
	if err := r.loadTypes(ctx, c); err != nil {
		return nil, err
	}
	r.mu.Lock()
	st, ok := r.types[parent]
	r.mu.Unlock()
	if !ok {
		// Another client may have registered it since the types were read.
		r.mu.Lock()
		r.typesLoaded = false
		r.mu.Unlock()
		if err := r.loadTypes(ctx, c); err != nil {
			return nil, err
		}
		r.mu.Lock()
		st, ok = r.types[parent]
		r.mu.Unlock()
		if !ok {
			return nil, &dataset.MissingTypeError{Name: parent}
		}
	}
	return st, nil
}

// DatasetTypes lists registered dataset types matching the globs (all when empty), sorted.
func (r *Registry) DatasetTypes(ctx context.Context, patterns []string) ([]dataset.Type, error) {
	// A listing shows what other clients registered too: it rereads the
	// types (with the search cache on, at most once per TTL, or every
	// listing would make every search of a busy server reread them).
	_, err := cached(r, "dataset types", func() (bool, error) {
		r.mu.Lock()
		r.typesLoaded = false
		r.mu.Unlock()
		return true, r.loadTypes(ctx, r.db.Conn())
	})
	if err != nil {
		return nil, err
	}
	if err := r.loadTypes(ctx, r.db.Conn()); err != nil {
		return nil, err
	}
	r.mu.Lock()
	var out []dataset.Type
	for _, st := range r.types {
		if matchAny(patterns, st.Name) {
			out = append(out, st.Type)
		}
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// registerDatasetType adds a dataset type. It reports whether it was added; an
// identical existing definition is a no-op and a different one a conflict.
func (r *Registry) registerDatasetType(ctx context.Context, c sqldb.Conn, t dataset.Type) (bool, error) {
	if err := dataset.ValidateTypeName(t.Name); err != nil {
		return false, err
	}
	if _, comp := dataset.SplitComponent(t.Name); comp != "" {
		return false, fmt.Errorf("register dataset type %q: %w: component dataset types are not registered; register the parent", t.Name, errs.ErrInvalid)
	}
	if t.StorageClass == "" {
		return false, fmt.Errorf("register dataset type %q: %w: no storage class", t.Name, errs.ErrInvalid)
	}
	if st, err := r.storedType(ctx, c, t.Name); err == nil {
		if !st.Type.Equal(t) {
			return false, fmt.Errorf("register dataset type %q: %w: already registered as %s, not %s", t.Name, errs.ErrConflict, st.Type, t)
		}
		return false, nil
	} else if !errorsIsNotFound(err) {
		return false, err
	}
	key, err := r.groupKey(ctx, c, t.Dimensions)
	if err != nil {
		return false, err
	}
	tags := tagsTableName(key)
	if err := r.ensureTable(ctx, c, datasetTable(tags, t.Dimensions, false)); err != nil {
		return false, err
	}
	var cal any
	if t.IsCalibration {
		name := calibsTableName(key)
		if err := r.ensureTable(ctx, c, datasetTable(name, t.Dimensions, true)); err != nil {
			return false, err
		}
		cal = name
	}
	idCol, idVal := r.db.AutoID("dataset_type", "id")
	var id int64
	if err := c.QueryRow(ctx, "INSERT INTO "+r.db.T("dataset_type")+" ("+idCol+"name, storage_class, dimensions_key, tag_association_table, calibration_association_table) VALUES ("+idVal+"?, ?, ?, ?, ?) RETURNING id",
		t.Name, t.StorageClass, key, tags, cal).Scan(&id); err != nil {
		return false, fmt.Errorf("register dataset type %q: %w", t.Name, err)
	}
	st := &storedType{Type: t, id: id, dimKey: key, tagTable: tags}
	if cal != nil {
		st.calTable = cal.(string)
	}
	r.mu.Lock()
	r.types[t.Name] = st
	r.mu.Unlock()
	return true, nil
}

func (r *Registry) ensureTable(ctx context.Context, c sqldb.Conn, t sqldb.Table) error {
	ok, err := r.db.TableExists(ctx, c, t.Name)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	return r.db.CreateTables(ctx, c, []sqldb.Table{t})
}

// removeDatasetType deletes a dataset type that has no datasets.
func (r *Registry) removeDatasetType(ctx context.Context, c sqldb.Conn, name string) error {
	st, err := r.storedType(ctx, c, name)
	if err != nil {
		return err
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM "+r.db.T("dataset")+" WHERE dataset_type_id = ?", st.id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("remove dataset type %q: %w: it still has %d dataset(s); remove them first (prune-datasets or remove-runs)", name, errs.ErrConflict, n)
	}
	if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("collection_summary_dataset_type")+" WHERE dataset_type_id = ?", st.id); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "DELETE FROM "+r.db.T("dataset_type")+" WHERE id = ?", st.id); err != nil {
		return fmt.Errorf("remove dataset type %q: %w", name, err)
	}
	r.mu.Lock()
	delete(r.types, name)
	r.mu.Unlock()
	return nil
}
