// Package server is `butler serve`: daf_butler's remote butler protocol (v1)
// over HTTP, for repositories opened with the Go API, with bearer tokens or
// an authenticating proxy in front, group-based access per repository, and
// files handed out as signed, expiring URLs.
//
// The protocol is that of lsst/daf_butler at UpstreamCommit:
// python/lsst/daf/butler/remote_butler/server_models.py (request and
// response models), server/handlers/_external.py and _external_query.py
// (routes), server/handlers/_query_limits.py and _query_streaming.py (limits,
// JSON-lines streaming with keep-alives), _exceptions.py (error_type names).
// JSON shapes follow what pydantic writes for those models (every field
// present, null for None), and errors are upstream's: 422 with
// {"error_type", "detail"} for a user error, {"detail"} with 401, 403, 404,
// 429, 503 otherwise.
package server

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

// UpstreamCommit is the lsst/daf_butler commit whose protocol this server
// speaks (2026-08-14).
const UpstreamCommit = "78e7f29047312e01d1df99bd1f6acf5b349898b9"

// Header names of the protocol.
const (
	ClientRequestIDHeader = "X-Butler-Client-Request-Id"
	// Headers an authenticating proxy (Gafaelfawr) sets.
	AuthUserHeader   = "X-Auth-Request-User"
	AuthGroupsHeader = "X-Auth-Request-Groups"
)

// errorStatus is the HTTP status of a user error (server_models.ERROR_STATUS_CODE).
const errorStatus = 422

// errorResponse is ErrorResponseModel.
type errorResponse struct {
	ErrorType string `json:"error_type"`
	Detail    string `json:"detail"`
}

// Error types of daf_butler's ButlerUserError subclasses.
const (
	errCalibrationLookup = "calibration_lookup"
	errCollectionCycle   = "collection_cycle"
	errCollectionType    = "collection_type"
	errDataIDValue       = "data_id_value"
	errDatasetNotFound   = "dataset_not_found"
	errDimensionName     = "dimension_name"
	errDimensionValue    = "dimension_value"
	errInvalidQuery      = "invalid_query"
	errMissingCollection = "missing_collection"
	errMissingType       = "missing_dataset_type"
	errUnimplemented     = "unimplemented_query"
)

// userErrorType classifies err as one of upstream's ButlerUserErrors, with
// fallback for other input errors; "" means err is not the user's (a 500).
func userErrorType(err error, fallback string) string {
	var mt *dataset.MissingTypeError
	var mc *dataset.MissingCollectionError
	var cl *dataset.CalibrationLookupError
	var cc *dataset.CollectionCycleError
	switch {
	case errors.As(err, &mt):
		return errMissingType
	case errors.As(err, &mc):
		return errMissingCollection
	case errors.As(err, &cl):
		return errCalibrationLookup
	case errors.As(err, &cc):
		return errCollectionCycle
	case errors.Is(err, errs.ErrUnsupported):
		return errUnimplemented
	case errors.Is(err, errs.ErrInvalid), errors.Is(err, errs.ErrNotFound):
		return fallback
	}
	return ""
}

// datasetTypeJSON is SerializedDatasetType.
type datasetTypeJSON struct {
	Name               string   `json:"name"`
	StorageClass       string   `json:"storageClass"`
	Dimensions         []string `json:"dimensions"`
	ParentStorageClass *string  `json:"parentStorageClass"`
	IsCalibration      bool     `json:"isCalibration"`
}

func datasetTypeOf(t dataset.Type) datasetTypeJSON {
	dims := t.Dimensions.RequiredNames()
	if dims == nil {
		dims = []string{}
	}
	return datasetTypeJSON{Name: t.Name, StorageClass: t.StorageClass, Dimensions: dims, IsCalibration: t.IsCalibration}
}

// dataCoordinateJSON is SerializedDataCoordinate.
type dataCoordinateJSON struct {
	DataID  object `json:"dataId"`
	Records object `json:"records"` // null unless expanded
}

// datasetRefJSON is SerializedDatasetRef.
type datasetRefJSON struct {
	ID          uuid.UUID          `json:"id"`
	DatasetType datasetTypeJSON    `json:"datasetType"`
	DataID      dataCoordinateJSON `json:"dataId"`
	Run         string             `json:"run"`
	Component   *string            `json:"component"`
}

// appendJSON writes r as marshal does (a query page holds thousands).
func (r datasetRefJSON) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":"`...)
	b = append(b, r.ID.String()...)
	b = append(b, `","datasetType":{"name":`...)
	t := r.DatasetType
	b = appendString(b, t.Name)
	b = append(b, `,"storageClass":`...)
	b = appendString(b, t.StorageClass)
	b = append(b, `,"dimensions":`...)
	if t.Dimensions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, d := range t.Dimensions {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, d)
		}
		b = append(b, ']')
	}
	b = append(b, `,"parentStorageClass":`...)
	b = appendOptString(b, t.ParentStorageClass)
	b = append(b, `,"isCalibration":`...)
	b = strconv.AppendBool(b, t.IsCalibration)
	b = append(b, `},"dataId":{"dataId":`...)
	var err error
	if b, err = appendValue(b, r.DataID.DataID); err != nil {
		return nil, err
	}
	b = append(b, `,"records":`...)
	if b, err = appendValue(b, r.DataID.Records); err != nil {
		return nil, err
	}
	b = append(b, `},"run":`...)
	b = appendString(b, r.Run)
	b = append(b, `,"component":`...)
	b = appendOptString(b, r.Component)
	return append(b, '}'), nil
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// dimensionRecordJSON is SerializedDimensionRecord.
type dimensionRecordJSON struct {
	Definition string `json:"definition"`
	Record     object `json:"record"`
}

// member is one key of a JSON object whose key order matters to a reader
// comparing with upstream's output (pydantic keeps insertion order).
type member struct {
	Key   string
	Value any
}

// object is a JSON object with keys in order; nil is JSON null.
type object []member

func (o object) MarshalJSON() ([]byte, error) {
	if o == nil {
		return []byte("null"), nil
	}
	return o.appendJSON(nil)
}

// appendJSON writes o as marshal does, without an encoder per member: the
// keys and the strings, integers, booleans and objects of every answer are
// appended directly; other values go through marshal.
func (o object) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, m.Key)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, m.Value); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case object:
		if x == nil {
			return append(b, "null"...), nil
		}
		return x.appendJSON(b)
	case datasetRefJSON:
		return x.appendJSON(b)
	case []datasetRefJSON:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, r := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b, _ = r.appendJSON(b)
		}
		return append(b, ']'), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, v := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, v); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	data, err := marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, data...), nil
}

// appendString quotes s as marshal does: printable ASCII as it is, anything
// else (escapes, control characters, non-ASCII) through marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			data, _ := marshal(s)
			return append(b, data...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// marshal is json.Marshal without HTML escaping ("<butlerRoot>" stays as
// Python's json writes it).
func marshal(v any) ([]byte, error) {
	if o, ok := v.(object); ok && o != nil {
		return o.appendJSON(nil)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// dataIDObject orders a data ID as DataCoordinate.mapping does: the group's
// required dimensions, then its implied ones (those present).
func dataIDObject(g dimensions.Group, id dimensions.DataID) object {
	// No map or copied element list: a query page makes thousands of these.
	o := make(object, 0, len(id))
	for _, els := range [2][]*dimensions.Element{g.Required, g.Implied} {
		for _, e := range els {
			if v, ok := id[e.Name]; ok && v != nil {
				o = append(o, member{e.Name, v})
			}
		}
	}
	if len(o) == len(id) {
		return o
	}
	var rest []string
	for k, v := range id {
		if v != nil && !g.Has(k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		o = append(o, member{k, id[k]})
	}
	return o
}

// recordJSON is DimensionRecord.to_simple: the record's columns in schema
// order (required dimensions, its own key, implied dimensions, alternate
// keys, metadata, region, timespan), regions and hashes as hex, timespans as
// [begin, end] TAI nanoseconds.
func recordJSON(rec dimensions.Record) dimensionRecordJSON {
	e := rec.Element
	o := object{}
	put := func(name string) {
		v := rec.Values[name]
		switch x := v.(type) {
		case []byte:
			v = hex.EncodeToString(x)
		case timespan.Timespan:
			v = [2]int64{x.Begin, x.End}
		}
		o = append(o, member{name, v})
	}
	for _, d := range e.Required {
		put(d.Name)
	}
	if e.IsDimension() {
		put(e.PrimaryKey().Name)
	}
	for _, d := range e.Implied {
		put(d.Name)
	}
	if e.IsDimension() {
		for _, k := range e.Keys[1:] {
			put(k.Name)
		}
	}
	for _, f := range e.Metadata {
		put(f.Name)
	}
	if e.Spatial != "" {
		put("region")
	}
	if e.Temporal != "" {
		put("timespan")
	}
	return dimensionRecordJSON{Definition: e.Name, Record: o}
}

// recordsObject orders a data ID's records by element, in universe order.
// Elements whose records are views of another's (band) get their key alone.
func recordsObject(u *dimensions.Universe, g dimensions.Group, full dimensions.DataID, recs map[string]dimensions.Record) object {
	var els []*dimensions.Element
	for _, e := range append(append([]*dimensions.Element(nil), g.Required...), g.Implied...) {
		if _, ok := recs[e.Name]; ok {
			els = append(els, e)
		} else if e.ViewOf != "" && e.IsDimension() && full[e.Name] != nil {
			recs[e.Name] = dimensions.Record{Element: e, Values: map[string]any{e.PrimaryKey().Name: full[e.Name]}}
			els = append(els, e)
		}
	}
	sort.Slice(els, func(i, j int) bool { return els[i].Index() < els[j].Index() })
	o := object{}
	for _, e := range els {
		o = append(o, member{e.Name, recordJSON(recs[e.Name])})
	}
	return o
}

// refJSON is DatasetRef.to_simple; records, when not nil, expand the data ID.
func refJSON(u *dimensions.Universe, ref dataset.Ref, full dimensions.DataID, recs map[string]dimensions.Record) datasetRefJSON {
	id := ref.DataID
	if full != nil {
		id = full
	}
	dc := dataCoordinateJSON{DataID: dataIDObject(ref.Type.Dimensions, id)}
	if recs != nil {
		dc.Records = recordsObject(u, ref.Type.Dimensions, id, recs)
	}
	return datasetRefJSON{ID: ref.ID, DatasetType: datasetTypeOf(ref.Type), DataID: dc, Run: ref.Run}
}

// storedFileJSON is SerializedStoredFileInfo.
type storedFileJSON struct {
	Formatter    string  `json:"formatter"`
	Path         string  `json:"path"`
	StorageClass string  `json:"storage_class"`
	Component    *string `json:"component"`
	Checksum     *string `json:"checksum"`
	FileSize     int64   `json:"file_size"`
}

// fileInfoJSON is FileInfoRecord.
type fileInfoJSON struct {
	URL              string         `json:"url"`
	DatastoreRecords storedFileJSON `json:"datastoreRecords"`
	Auth             string         `json:"auth"`
}

// fileInfoPayload is FileInfoPayload.
type fileInfoPayload struct {
	DatastoreType string         `json:"datastore_type"`
	FileInfo      []fileInfoJSON `json:"file_info"`
}

// getFileResponse is GetFileResponseModel.
type getFileResponse struct {
	DatasetRef datasetRefJSON   `json:"dataset_ref"`
	Artifact   *fileInfoPayload `json:"artifact"`
}

// collectionInfoJSON is CollectionInfo (query_collection_info).
type collectionInfoJSON struct {
	Name         string   `json:"name"`
	Type         int      `json:"type"`
	Doc          string   `json:"doc"`
	Children     []string `json:"children"`
	Parents      []string `json:"parents"`
	DatasetTypes []string `json:"dataset_types"`
}

// relativePath is make_datastore_path_relative: an absolute URI loses its
// scheme and host (a zip member fragment is kept), so no server-side
// location reaches the client.
func relativePath(p string) string {
	_, rest, ok := strings.Cut(p, "://")
	if !ok {
		return p
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return strings.TrimLeft(rest[i:], "/")
	}
	return ""
}

// Request models.

// findDatasetRequest is FindDatasetRequestModel.
type findDatasetRequest struct {
	DatasetType      string         `json:"dataset_type"`
	DataID           map[string]any `json:"data_id"`
	DefaultDataID    map[string]any `json:"default_data_id"`
	Collections      []string       `json:"collections"`
	Timespan         *[2]int64      `json:"timespan"`
	DimensionRecords bool           `json:"dimension_records"`
}

// expandDataIDRequest is ExpandDataIdRequestModel.
type expandDataIDRequest struct {
	DataID map[string]any `json:"data_id"`
}

// getManyDatasetsRequest is GetManyDatasetsRequestModel.
type getManyDatasetsRequest struct {
	DatasetIDs []uuid.UUID `json:"dataset_ids"`
}

// maxItemsPerRequest is GetManyDatasetsRequestModel.MAX_ITEMS_PER_REQUEST.
const maxItemsPerRequest = 10_000

// getFileByDataIDRequest is GetFileByDataIdRequestModel.
type getFileByDataIDRequest struct {
	DatasetType   string         `json:"dataset_type"`
	DataID        map[string]any `json:"data_id"`
	DefaultDataID map[string]any `json:"default_data_id"`
	Collections   []string       `json:"collections"`
	Timespan      *[2]int64      `json:"timespan"`
}

// queryCollectionsRequest is QueryCollectionsRequestModel.
type queryCollectionsRequest struct {
	Search          []string `json:"search"`
	CollectionTypes []int    `json:"collection_types"`
	FlattenChains   bool     `json:"flatten_chains"`
	IncludeChains   bool     `json:"include_chains"`
}

// queryCollectionInfoRequest is QueryCollectionInfoRequestModel.
type queryCollectionInfoRequest struct {
	Expression      []string `json:"expression"`
	CollectionTypes []int    `json:"collection_types"`
	FlattenChains   bool     `json:"flatten_chains"`
	IncludeChains   bool     `json:"include_chains"`
	IncludeParents  bool     `json:"include_parents"`
	IncludeSummary  bool     `json:"include_summary"`
	IncludeDoc      bool     `json:"include_doc"`
	SummaryDatasets []string `json:"summary_datasets"`
}

// queryDatasetTypesRequest is QueryDatasetTypesRequestModel.
type queryDatasetTypesRequest struct {
	Search []string `json:"search"`
}

// columnLiteral is one of the query tree's ColumnLiteral models, as a bind value.
type columnLiteral struct {
	ExpressionType string          `json:"expression_type"`
	Value          json.RawMessage `json:"value"`
	// Nsec is a datetime's, BeginNsec and EndNsec a timespan's (TAI
	// nanoseconds since 1970).
	Nsec      *int64 `json:"nsec"`
	BeginNsec *int64 `json:"begin_nsec"`
	EndNsec   *int64 `json:"end_nsec"`
	// Encoded is a region's sphgeom encoding, base64.
	Encoded *string `json:"encoded"`
}

// queryAllDatasetsRequest is QueryAllDatasetsRequestModel.
type queryAllDatasetsRequest struct {
	Collections          []string                 `json:"collections"`
	Name                 []string                 `json:"name"`
	FindFirst            bool                     `json:"find_first"`
	DataID               map[string]any           `json:"data_id"`
	DefaultDataID        map[string]any           `json:"default_data_id"`
	Where                string                   `json:"where"`
	Bind                 map[string]columnLiteral `json:"bind"`
	Limit                *int                     `json:"limit"`
	WithDimensionRecords bool                     `json:"with_dimension_records"`
}
