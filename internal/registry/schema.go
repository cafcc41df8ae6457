// Package registry keeps the butler's database: collections, dataset types,
// datasets, dimension records and opaque datastore records, in tables laid out as
// daf_butler's default managers lay them out, so repositories move between this
// butler and the Python one.
package registry

import (
	"fmt"
	"sort"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

// Manager class names and schema versions written to butler_attributes.
var managers = []struct{ key, class, version string }{
	{"attributes", "lsst.daf.butler.registry.attributes.DefaultButlerAttributeManager", "1.0.1"},
	{"opaque", "lsst.daf.butler.registry.opaque.ByNameOpaqueTableStorageManager", "0.2.0"},
	{"dimensions", "lsst.daf.butler.registry.dimensions.static.StaticDimensionRecordStorageManager", "6.0.2"},
	{"collections", "lsst.daf.butler.registry.collections.synthIntKey.SynthIntKeyCollectionManager", "2.0.0"},
	{"datasets", "lsst.daf.butler.registry.datasets.byDimensions._manager.ByDimensionsDatasetRecordStorageManagerUUID", "2.0.0"},
	{"datastores", "lsst.daf.butler.registry.bridge.monolithic.MonolithicDatastoreRegistryBridgeManager", "0.2.1"},
}

// ManagerConfig returns the registry.managers section written into butler.yaml.
func ManagerConfig() map[string]string {
	out := map[string]string{}
	for _, m := range managers {
		out[m.key] = m.class
	}
	// butler.yaml names the datasets manager by its public module path.
	out["datasets"] = "lsst.daf.butler.registry.datasets.byDimensions.ByDimensionsDatasetRecordStorageManagerUUID"
	return out
}

func str(name string, length int, notNull bool) sqldb.Column {
	return sqldb.Column{Name: name, Type: sqldb.String, Length: length, NotNull: notNull}
}

func i64(name string, notNull bool) sqldb.Column {
	return sqldb.Column{Name: name, Type: sqldb.Int64, NotNull: notNull}
}

func autoID(name string) sqldb.Column {
	return sqldb.Column{Name: name, Type: sqldb.Int64, NotNull: true, AutoIncrement: true}
}

func uuidCol(name string) sqldb.Column {
	return sqldb.Column{Name: name, Type: sqldb.UUID, NotNull: true}
}

// fieldColumn converts a dimension field to a column.
func fieldColumn(f dimensions.Field, notNull bool) sqldb.Column {
	c := sqldb.Column{Name: f.Name, NotNull: notNull}
	switch f.Type {
	case "int":
		c.Type = sqldb.Int64
	case "string":
		c.Type, c.Length = sqldb.String, f.Length
	case "float":
		c.Type = sqldb.Float
	case "bool":
		c.Type = sqldb.Bool
	case "datetime":
		c.Type = sqldb.Int64
	case "uuid":
		c.Type = sqldb.UUID
	default: // hash, region, blob: base64 text
		c.Type = sqldb.String
	}
	return c
}

// keyColumn is the column another table uses to refer to dimension d.
func keyColumn(d *dimensions.Element, name string) sqldb.Column {
	c := fieldColumn(d.PrimaryKey(), true)
	c.Name = name
	return c
}

// dimensionFK is the foreign key from columns named after d's dimensions to d's table.
func dimensionFK(d *dimensions.Element) sqldb.ForeignKey {
	fk := sqldb.ForeignKey{Table: d.Name}
	for _, r := range d.Required {
		fk.Columns = append(fk.Columns, r.Name)
		fk.Target = append(fk.Target, r.Name)
	}
	fk.Columns = append(fk.Columns, d.Name)
	fk.Target = append(fk.Target, d.PrimaryKey().Name)
	return fk
}

// elementTable derives the table of a dimension element (reference §3.5) in
// universe version v, with the NOT NULL columns of dimensions.StrictNulls.
func elementTable(e *dimensions.Element, v int) sqldb.Table {
	strict := dimensions.StrictNulls(v)
	t := sqldb.Table{Name: e.Name}
	for _, r := range e.Required {
		t.Columns = append(t.Columns, keyColumn(r, r.Name))
		t.PrimaryKey = append(t.PrimaryKey, r.Name)
		if r.HasTable() {
			t.ForeignKeys = append(t.ForeignKeys, dimensionFK(r))
		}
	}
	if e.IsDimension() {
		pk := e.PrimaryKey()
		t.Columns = append(t.Columns, fieldColumn(pk, true))
		t.PrimaryKey = append(t.PrimaryKey, pk.Name)
	}
	for _, d := range e.Implied {
		t.Columns = append(t.Columns, keyColumn(d, d.Name))
		if d.HasTable() {
			t.ForeignKeys = append(t.ForeignKeys, dimensionFK(d))
		}
	}
	if e.IsDimension() {
		for _, alt := range e.Keys[1:] {
			t.Columns = append(t.Columns, fieldColumn(alt, strict))
			var u []string
			for _, r := range e.Required {
				u = append(u, r.Name)
			}
			t.Unique = append(t.Unique, append(u, alt.Name))
		}
	}
	for _, m := range e.Metadata {
		t.Columns = append(t.Columns, fieldColumn(m, strict && !m.IsNullable()))
	}
	if e.Spatial != "" {
		t.Columns = append(t.Columns, sqldb.Column{Name: "region", Type: sqldb.String})
	}
	if e.Temporal != "" {
		t.Columns = append(t.Columns, sqldb.Column{Name: "timespan", Type: sqldb.Timespan})
	}
	return t
}

func skypixOverlapTables(e *dimensions.Element) []sqldb.Table {
	gov := e.GovernorOf()
	summary := sqldb.Table{
		Name:        e.Name + "_skypix_overlap_summary",
		Columns:     []sqldb.Column{str("skypix_system", 16, true), {Name: "skypix_level", Type: sqldb.Int16, NotNull: true}, keyColumn(gov, gov.Name)},
		PrimaryKey:  []string{"skypix_system", "skypix_level", gov.Name},
		ForeignKeys: []sqldb.ForeignKey{dimensionFK(gov)},
	}
	overlap := sqldb.Table{
		Name:       e.Name + "_skypix_overlap",
		Columns:    []sqldb.Column{str("skypix_system", 16, true), {Name: "skypix_level", Type: sqldb.Int16, NotNull: true}},
		PrimaryKey: []string{"skypix_system", "skypix_level"},
		ForeignKeys: []sqldb.ForeignKey{{
			Columns: []string{"skypix_system", "skypix_level", gov.Name}, Table: summary.Name,
			Target: []string{"skypix_system", "skypix_level", gov.Name}, OnDelete: "CASCADE",
		}},
	}
	var dims []string
	for _, d := range e.Dimensions() {
		overlap.Columns = append(overlap.Columns, keyColumn(d, d.Name))
		overlap.PrimaryKey = append(overlap.PrimaryKey, d.Name)
		overlap.ForeignKeys = append(overlap.ForeignKeys, dimensionFK(d))
		dims = append(dims, d.Name)
	}
	overlap.Columns = append(overlap.Columns, i64("skypix_index", true))
	overlap.PrimaryKey = append(overlap.PrimaryKey, "skypix_index")
	overlap.Indexes = [][]string{append([]string{"skypix_system", "skypix_level", "skypix_index"}, dims...)}
	return []sqldb.Table{summary, overlap}
}

// legacyOverlapTables are the never-populated pairwise overlap tables daf_butler
// still creates between the observation and skymap region families.
func legacyOverlapTables(u *dimensions.Universe) []sqldb.Table {
	families := map[string][]*dimensions.Element{}
	var famNames []string
	for _, e := range u.Elements {
		if e.Spatial != "" && e.SkyPixSystem == "" && e.HasTable() {
			if _, ok := families[e.Spatial]; !ok {
				famNames = append(famNames, e.Spatial)
			}
			families[e.Spatial] = append(families[e.Spatial], e)
		}
	}
	sort.Strings(famNames)
	var out []sqldb.Table
	for i := 0; i < len(famNames); i++ {
		for j := i + 1; j < len(famNames); j++ {
			for _, a := range families[famNames[i]] {
				for _, b := range families[famNames[j]] {
					e1, e2 := a, b
					if e2.Index() < e1.Index() {
						e1, e2 = e2, e1
					}
					g1, g2 := e1.GovernorOf(), e2.GovernorOf()
					name := e1.Name + "_" + e2.Name + "_overlap"
					summary := sqldb.Table{
						Name:        name + "_summary",
						Columns:     []sqldb.Column{keyColumn(g1, g1.Name), keyColumn(g2, g2.Name)},
						PrimaryKey:  []string{g1.Name, g2.Name},
						ForeignKeys: []sqldb.ForeignKey{dimensionFK(g1), dimensionFK(g2)},
					}
					ov := sqldb.Table{
						Name:        name,
						Columns:     []sqldb.Column{keyColumn(g1, g1.Name), keyColumn(g2, g2.Name)},
						PrimaryKey:  []string{g1.Name, g2.Name},
						ForeignKeys: []sqldb.ForeignKey{dimensionFK(g1), dimensionFK(g2)},
					}
					for _, e := range []*dimensions.Element{e1, e2} {
						for _, d := range e.Dimensions() {
							if d.Governor {
								continue
							}
							ov.Columns = append(ov.Columns, keyColumn(d, d.Name))
							ov.PrimaryKey = append(ov.PrimaryKey, d.Name)
							ov.ForeignKeys = append(ov.ForeignKeys, dimensionFK(d))
						}
					}
					out = append(out, summary, ov)
				}
			}
		}
	}
	return out
}

// staticTables lists every table of a new repository, referenced tables first.
func staticTables(u *dimensions.Universe, datasetsV2 bool) []sqldb.Table {
	ts := []sqldb.Table{
		{Name: "butler_attributes", Columns: []sqldb.Column{str("name", 1024, true), str("value", 65535, true)}, PrimaryKey: []string{"name"}},
		{Name: "opaque_meta", Columns: []sqldb.Column{str("table_name", 128, true)}, PrimaryKey: []string{"table_name"}},
		{Name: "dimension_graph_key", Columns: []sqldb.Column{autoID("id")}, PrimaryKey: []string{"id"}},
		{Name: "dimension_graph_definition", Columns: []sqldb.Column{i64("dimension_graph_id", true), str("dimension_name", 0, true)},
			PrimaryKey:  []string{"dimension_graph_id", "dimension_name"},
			ForeignKeys: []sqldb.ForeignKey{{Columns: []string{"dimension_graph_id"}, Table: "dimension_graph_key", Target: []string{"id"}, OnDelete: "CASCADE"}}},
		{Name: "collection", Columns: []sqldb.Column{autoID("collection_id"), str("name", 64, true), {Name: "type", Type: sqldb.Int16, NotNull: true}, str("doc", 0, false)},
			PrimaryKey: []string{"collection_id"}, Unique: [][]string{{"name"}}},
		{Name: "run", Columns: []sqldb.Column{i64("collection_id", true), str("host", 128, false), {Name: "timespan", Type: sqldb.Timespan}},
			PrimaryKey:  []string{"collection_id"},
			ForeignKeys: []sqldb.ForeignKey{{Columns: []string{"collection_id"}, Table: "collection", Target: []string{"collection_id"}, OnDelete: "CASCADE"}}},
		{Name: "collection_chain", Columns: []sqldb.Column{i64("parent", true), {Name: "position", Type: sqldb.Int16, NotNull: true}, i64("child", true)},
			PrimaryKey: []string{"parent", "position"},
			ForeignKeys: []sqldb.ForeignKey{
				{Columns: []string{"parent"}, Table: "collection", Target: []string{"collection_id"}, OnDelete: "CASCADE"},
				{Columns: []string{"child"}, Table: "collection", Target: []string{"collection_id"}},
			}},
	}
	for _, e := range u.Elements {
		if e.HasTable() {
			ts = append(ts, elementTable(e, u.Version))
		}
	}
	for _, e := range u.Elements {
		if e.HasTable() && e.Spatial != "" {
			ts = append(ts, skypixOverlapTables(e)...)
		}
	}
	ts = append(ts, legacyOverlapTables(u)...)
	ingest := sqldb.Column{Name: "ingest_date", Type: sqldb.Time, NotNull: true, Default: "(CURRENT_TIMESTAMP)"}
	if datasetsV2 {
		ingest = i64("ingest_date", true)
	}
	ts = append(ts,
		sqldb.Table{Name: "dataset_type", Columns: []sqldb.Column{autoID("id"), str("name", 128, true), str("storage_class", 64, true), i64("dimensions_key", true),
			str("tag_association_table", 128, true), str("calibration_association_table", 128, false)},
			PrimaryKey: []string{"id"}, Unique: [][]string{{"name"}}},
		sqldb.Table{Name: "dataset", Columns: []sqldb.Column{uuidCol("id"), i64("dataset_type_id", true), ingest, i64("run_id", true)},
			PrimaryKey: []string{"id"},
			ForeignKeys: []sqldb.ForeignKey{
				{Columns: []string{"dataset_type_id"}, Table: "dataset_type", Target: []string{"id"}},
				{Columns: []string{"run_id"}, Table: "run", Target: []string{"collection_id"}, OnDelete: "CASCADE"},
			}},
		sqldb.Table{Name: "collection_summary_dataset_type", Columns: []sqldb.Column{i64("collection_id", true), i64("dataset_type_id", true)},
			PrimaryKey: []string{"collection_id", "dataset_type_id"},
			ForeignKeys: []sqldb.ForeignKey{
				{Columns: []string{"collection_id"}, Table: "collection", Target: []string{"collection_id"}, OnDelete: "CASCADE"},
				{Columns: []string{"dataset_type_id"}, Table: "dataset_type", Target: []string{"id"}, OnDelete: "CASCADE"},
			}},
	)
	for _, g := range u.Governors() {
		ts = append(ts, sqldb.Table{Name: "collection_summary_" + g.Name, Columns: []sqldb.Column{i64("collection_id", true), keyColumn(g, g.Name)},
			PrimaryKey: []string{"collection_id", g.Name},
			ForeignKeys: []sqldb.ForeignKey{
				{Columns: []string{"collection_id"}, Table: "collection", Target: []string{"collection_id"}, OnDelete: "CASCADE"},
				dimensionFK(g),
			}})
	}
	ts = append(ts,
		sqldb.Table{Name: "dataset_location", Columns: []sqldb.Column{str("datastore_name", 256, true), uuidCol("dataset_id")},
			PrimaryKey:  []string{"datastore_name", "dataset_id"},
			ForeignKeys: []sqldb.ForeignKey{{Columns: []string{"dataset_id"}, Table: "dataset", Target: []string{"id"}}}},
		sqldb.Table{Name: "dataset_location_trash", Columns: []sqldb.Column{str("datastore_name", 256, true), uuidCol("dataset_id")},
			PrimaryKey: []string{"datastore_name", "dataset_id"}},
	)
	return ts
}

// tagsTableName and calibsTableName are the dynamic per-dimension-group tables.
func tagsTableName(key int64) string   { return fmt.Sprintf("dataset_tags_%08d", key) }
func calibsTableName(key int64) string { return fmt.Sprintf("dataset_calibs_%08d", key) }

func datasetTable(name string, g dimensions.Group, calib bool) sqldb.Table {
	t := sqldb.Table{Name: name}
	if calib {
		t.Columns = append(t.Columns, autoID("id"))
		t.PrimaryKey = []string{"id"}
	}
	t.Columns = append(t.Columns, i64("dataset_type_id", true), uuidCol("dataset_id"), i64("collection_id", true))
	if !calib {
		t.PrimaryKey = []string{"dataset_id", "collection_id"}
	}
	t.ForeignKeys = []sqldb.ForeignKey{
		{Columns: []string{"dataset_type_id"}, Table: "dataset_type", Target: []string{"id"}},
		{Columns: []string{"dataset_id"}, Table: "dataset", Target: []string{"id"}, OnDelete: "CASCADE"},
		{Columns: []string{"collection_id"}, Table: "collection", Target: []string{"collection_id"}, OnDelete: "CASCADE"},
		{Columns: []string{"collection_id", "dataset_type_id"}, Table: "collection_summary_dataset_type", Target: []string{"collection_id", "dataset_type_id"}},
	}
	dims := []string{}
	for _, d := range g.Required {
		t.Columns = append(t.Columns, keyColumn(d, d.Name))
		dims = append(dims, d.Name)
		if d.Governor {
			t.ForeignKeys = append(t.ForeignKeys, dimensionFK(d), sqldb.ForeignKey{
				Columns: []string{"collection_id", d.Name}, Table: "collection_summary_" + d.Name, Target: []string{"collection_id", d.Name}})
		} else if d.HasTable() {
			t.ForeignKeys = append(t.ForeignKeys, dimensionFK(d))
		}
	}
	if calib {
		t.Columns = append(t.Columns, sqldb.Column{Name: "timespan", Type: sqldb.Timespan, NotNull: true})
		t.Indexes = [][]string{append(append([]string{"dataset_type_id", "collection_id"}, dims...), "timespan")}
	} else {
		t.Unique = [][]string{append([]string{"dataset_type_id", "collection_id"}, dims...)}
	}
	return t
}

// fileRecordsTable is the FileDatastore's opaque records table.
func fileRecordsTable(name string) sqldb.Table {
	return sqldb.Table{
		Name: name,
		Columns: []sqldb.Column{uuidCol("dataset_id"), str("path", 256, true), str("formatter", 128, true), str("storage_class", 64, true),
			str("component", 32, true), str("checksum", 128, false), i64("file_size", false)},
		PrimaryKey: []string{"dataset_id", "component"},
		Indexes:    [][]string{{"path"}},
	}
}
