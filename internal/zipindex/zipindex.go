// Package zipindex is the format of the index a zip of datasets carries,
// _butler_zip_index.json: daf_butler's ZipIndex, index_version and
// container_version "V1". It reads and checks an index, and encodes and
// decodes the dimension record rows it holds; the butler package writes and
// ingests the zips themselves.
package zipindex

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

// Name is the zip member that describes a zip of datasets, as
// daf_butler's ZipIndex names it.
const Name = "_butler_zip_index.json"

// Index is the index format (daf_butler ZipIndex, index_version and container_version
// "V1"). Field names and nulls follow what pydantic writes, so that the Python
// butler reads our zips and we read its.
type Index struct {
	IndexVersion string              `json:"index_version"`
	Refs         Refs                `json:"refs"`
	ArtifactMap  map[string]Artifact `json:"artifact_map"`
}

// Refs is the index's container of dataset refs (container_version "V1").
type Refs struct {
	ContainerVersion  string                 `json:"container_version"`
	UniverseVersion   int                    `json:"universe_version"`
	UniverseNamespace string                 `json:"universe_namespace"`
	DatasetTypes      map[string]DatasetType `json:"dataset_types"`
	CompactRefs       map[string]CompactRef  `json:"compact_refs"`
	// DimensionRecords maps element name to rows: the element's required
	// dimension values, then implied ones, then the other fields in schema order.
	DimensionRecords map[string][][]any `json:"dimension_records"`
}

// DatasetType is a dataset type of the index.
type DatasetType struct {
	Name               string     `json:"name"`
	StorageClass       string     `json:"storageClass"`
	Dimensions         Dimensions `json:"dimensions"`
	ParentStorageClass *string    `json:"parentStorageClass"`
	IsCalibration      bool       `json:"isCalibration"`
}

// Dimensions reads a list of dimension names or the older {"names": [...]} form.
type Dimensions []string

func (d *Dimensions) UnmarshalJSON(data []byte) error {
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		*d = list
		return nil
	}
	var obj struct {
		Names []string `json:"names"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("dimensions: want a list of names: %w", err)
	}
	*d = obj.Names
	return nil
}

// CompactRef is one dataset of the index: its type, run and data ID.
type CompactRef struct {
	DatasetTypeName string         `json:"dataset_type_name"`
	Run             string         `json:"run"`
	DataID          map[string]any `json:"data_id"`
}

// Artifact is one member of the zip: its file record and the datasets it holds.
type Artifact struct {
	Info FileInfo `json:"info"`
	IDs  []string `json:"ids"`
}

// FileInfo is daf_butler's SerializedStoredFileInfo.
type FileInfo struct {
	Formatter    string  `json:"formatter"`
	Path         string  `json:"path"`
	StorageClass string  `json:"storage_class"`
	Component    *string `json:"component"`
	Checksum     *string `json:"checksum"`
	FileSize     int64   `json:"file_size"`
}

// FileName is the file name daf_butler gives a zip: uuid5 (in the dataset ID
// namespace) of its sorted member names joined by commas, plus ".zip".
func FileName(members []string) string {
	s := append([]string(nil), members...)
	sort.Strings(s)
	return uuid.NewSHA1(dataset.Namespace, []byte(strings.Join(s, ","))).String() + ".zip"
}

// RecordRow serialises a record as daf_butler's key-value list: required
// dimension values, implied ones, alternate keys, metadata, region (hex),
// timespan ([begin, end] TAI nanoseconds).
func RecordRow(rec dimensions.Record) []any {
	e := rec.Element
	var row []any
	for _, d := range e.Required {
		row = append(row, rec.Values[d.Name])
	}
	if e.IsDimension() {
		row = append(row, rec.Values[e.PrimaryKey().Name])
	}
	for _, d := range e.Implied {
		row = append(row, rec.Values[d.Name])
	}
	for _, f := range recordFields(e) {
		v := rec.Values[f.Name]
		switch x := v.(type) {
		case []byte:
			v = hex.EncodeToString(x)
		case timespan.Timespan:
			v = []int64{x.Begin, x.End}
		}
		row = append(row, v)
	}
	return row
}

// recordFields lists the fields of an element's record after its dimension
// columns, in daf_butler's schema order.
func recordFields(e *dimensions.Element) []dimensions.Field {
	var out []dimensions.Field
	if e.IsDimension() {
		out = append(out, e.Keys[1:]...)
	}
	out = append(out, e.Metadata...)
	if e.Spatial != "" {
		out = append(out, dimensions.Field{Name: "region", Type: "region"})
	}
	if e.Temporal != "" {
		out = append(out, dimensions.Field{Name: "timespan", Type: "timespan"})
	}
	return out
}

// DecodeRecordRow reads a key-value list back into a record of e.
func DecodeRecordRow(e *dimensions.Element, row []any) (dimensions.Record, error) {
	fields := recordFields(e)
	want := len(e.Dimensions()) + len(e.Implied) + len(fields)
	if len(row) != want {
		return dimensions.Record{}, fmt.Errorf("%s record %v: %w: %d values, the element has %d", e.Name, row, errs.ErrInvalid, len(row), want)
	}
	rec := dimensions.Record{Element: e, Values: map[string]any{}}
	i := 0
	for _, d := range e.Dimensions() {
		v, err := dimensions.ConvertKey(d, JSONScalar(row[i]))
		if err != nil {
			return rec, fmt.Errorf("%s record %v: %w", e.Name, row, err)
		}
		name := d.Name
		if d == e {
			name = e.PrimaryKey().Name
		}
		rec.Values[name] = v
		i++
	}
	for _, d := range e.Implied {
		if row[i] != nil {
			v, err := dimensions.ConvertKey(d, JSONScalar(row[i]))
			if err != nil {
				return rec, fmt.Errorf("%s record %v: %w", e.Name, row, err)
			}
			rec.Values[d.Name] = v
		} else {
			rec.Values[d.Name] = nil
		}
		i++
	}
	for _, f := range fields {
		v, err := decodeField(f, row[i])
		if err != nil {
			return rec, fmt.Errorf("%s record %v: field %s: %w", e.Name, row, f.Name, err)
		}
		rec.Values[f.Name] = v
		i++
	}
	return rec, nil
}

func decodeField(f dimensions.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case "int":
		if n, ok := v.(json.Number); ok {
			return n.Int64()
		}
	case "float":
		if n, ok := v.(json.Number); ok {
			return n.Float64()
		}
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "hash", "blob", "region":
		if s, ok := v.(string); ok {
			return hex.DecodeString(s)
		}
	case "timespan":
		if pair, ok := v.([]any); ok && len(pair) == 2 {
			b, ok1 := pair[0].(json.Number)
			e, ok2 := pair[1].(json.Number)
			if ok1 && ok2 {
				bi, err1 := b.Int64()
				ei, err2 := e.Int64()
				if err1 == nil && err2 == nil {
					return timespan.Timespan{Begin: bi, End: ei}, nil
				}
			}
		}
	default:
		return JSONScalar(v), nil
	}
	return nil, fmt.Errorf("%w: %v (%T) is not a %s", errs.ErrInvalid, v, v, f.Type)
}

// JSONScalar turns a json.Number into an int64 or a float64.
func JSONScalar(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return n.String()
}

// Read decodes an index (numbers as json.Number) and checks its versions;
// where names the zip in errors.
func Read(r io.Reader, where string) (*Index, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber() // timespans are nanoseconds, beyond float64 precision
	var idx Index
	if err := dec.Decode(&idx); err != nil {
		return nil, fmt.Errorf("read %s of %s: %w: %w", Name, where, errs.ErrInvalid, err)
	}
	if idx.IndexVersion != "V1" {
		return nil, fmt.Errorf("read %s of %s: %w: index_version %q (this butler reads \"V1\")", Name, where, errs.ErrUnsupported, idx.IndexVersion)
	}
	if idx.Refs.ContainerVersion != "V1" {
		return nil, fmt.Errorf("read %s of %s: %w: refs container_version %q (this butler reads \"V1\")", Name, where, errs.ErrUnsupported, idx.Refs.ContainerVersion)
	}
	return &idx, nil
}

// MemberNames lists the index's member names, sorted.
func (idx *Index) MemberNames() []string {
	names := make([]string, 0, len(idx.ArtifactMap))
	for n := range idx.ArtifactMap {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
