package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

// Wire forms of the protocol's models (server_models.py and the
// serialized dataset types, refs and data coordinates).
type typeWire struct {
	Name          string   `json:"name"`
	StorageClass  string   `json:"storageClass"`
	Dimensions    []string `json:"dimensions"`
	IsCalibration bool     `json:"isCalibration"`
}

type refWire struct {
	ID          uuid.UUID `json:"id"`
	DatasetType typeWire  `json:"datasetType"`
	DataID      struct {
		DataID map[string]any `json:"dataId"`
	} `json:"dataId"`
	Run string `json:"run"`
}

func (c *Client) typeOf(w typeWire) (dataset.Type, error) {
	g, err := c.universe.Group(w.Dimensions...)
	if err != nil {
		return dataset.Type{}, fmt.Errorf("dataset type %s from %s: %w", w.Name, c.base, err)
	}
	return dataset.Type{Name: w.Name, StorageClass: w.StorageClass, Dimensions: g, IsCalibration: w.IsCalibration}, nil
}

// dataIDOf converts a wire data ID (numbers as json.Number) to ours.
func dataIDOf(in map[string]any) dimensions.DataID {
	out := make(dimensions.DataID, len(in))
	for k, v := range in {
		if n, ok := v.(json.Number); ok {
			if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
				out[k] = i
				continue
			}
			f, _ := n.Float64()
			out[k] = f
			continue
		}
		out[k] = v
	}
	return out
}

func (c *Client) refOf(w refWire) (dataset.Ref, error) {
	t, err := c.typeOf(w.DatasetType)
	if err != nil {
		return dataset.Ref{}, err
	}
	return dataset.Ref{ID: w.ID, Type: t, DataID: dataIDOf(w.DataID.DataID), Run: w.Run}, nil
}

// DatasetType returns a registered dataset type.
func (c *Client) DatasetType(ctx context.Context, name string) (dataset.Type, error) {
	var resp struct {
		DatasetType typeWire `json:"dataset_type"`
	}
	if err := c.call(ctx, "GET", "v1/dataset_type/"+url.PathEscape(name), nil, &resp); err != nil {
		return dataset.Type{}, err
	}
	return c.typeOf(resp.DatasetType)
}

// DatasetTypes lists the dataset types matching glob patterns (all when none).
func (c *Client) DatasetTypes(ctx context.Context, patterns ...string) ([]dataset.Type, error) {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	var resp struct {
		DatasetTypes []typeWire `json:"dataset_types"`
	}
	if err := c.call(ctx, "POST", "v1/query_dataset_types", map[string]any{"search": patterns}, &resp); err != nil {
		return nil, err
	}
	out := make([]dataset.Type, 0, len(resp.DatasetTypes))
	for _, w := range resp.DatasetTypes {
		t, err := c.typeOf(w)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Dataset returns the dataset with the given ID (errs.ErrNotFound when
// there is none).
func (c *Client) Dataset(ctx context.Context, id dataset.ID) (dataset.Ref, error) {
	var resp struct {
		Ref *refWire `json:"dataset_ref"`
	}
	if err := c.call(ctx, "GET", "v1/dataset/"+id.String(), nil, &resp); err != nil {
		return dataset.Ref{}, err
	}
	if resp.Ref == nil {
		return dataset.Ref{}, fmt.Errorf("dataset %s: %w in %s", id, errs.ErrNotFound, c.base)
	}
	return c.refOf(*resp.Ref)
}

// Find returns the first dataset of the type with the data ID in the
// ordered collections (errs.ErrNotFound when there is none).
func (c *Client) Find(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string) (dataset.Ref, error) {
	req := map[string]any{"dataset_type": typeName, "data_id": dataID, "collections": collections, "timespan": nil, "dimension_records": false}
	var resp struct {
		Ref *refWire `json:"dataset_ref"`
	}
	if err := c.call(ctx, "POST", "v1/find_dataset", req, &resp); err != nil {
		return dataset.Ref{}, err
	}
	if resp.Ref == nil {
		return dataset.Ref{}, fmt.Errorf("dataset %s %s: %w in collections %v", typeName, dataID, errs.ErrNotFound, collections)
	}
	return c.refOf(*resp.Ref)
}

// Collection describes one collection.
type Collection struct {
	Name         string
	Type         dataset.CollectionType
	Doc          string
	Children     []string
	Parents      []string
	DatasetTypes []string
}

// Collections lists the collections matching glob patterns (all when none)
// and types (all when none), with their chains' children, parents, docs
// and dataset types.
func (c *Client) Collections(ctx context.Context, patterns []string, types ...dataset.CollectionType) ([]Collection, error) {
	if len(patterns) == 0 {
		patterns = []string{"*"}
	}
	if len(types) == 0 {
		types = []dataset.CollectionType{dataset.Run, dataset.Tagged, dataset.Chained, dataset.Calibration}
	}
	req := map[string]any{"expression": patterns, "collection_types": types, "flatten_chains": false, "include_chains": true,
		"include_parents": true, "include_summary": true, "include_doc": true, "summary_datasets": nil}
	var resp struct {
		Collections []struct {
			Name         string   `json:"name"`
			Type         int      `json:"type"`
			Doc          string   `json:"doc"`
			Children     []string `json:"children"`
			Parents      []string `json:"parents"`
			DatasetTypes []string `json:"dataset_types"`
		} `json:"collections"`
	}
	if err := c.call(ctx, "POST", "v1/query_collection_info", req, &resp); err != nil {
		return nil, err
	}
	out := make([]Collection, len(resp.Collections))
	for i, w := range resp.Collections {
		out[i] = Collection{Name: w.Name, Type: dataset.CollectionType(w.Type), Doc: w.Doc, Children: w.Children, Parents: w.Parents, DatasetTypes: w.DatasetTypes}
	}
	return out, nil
}

// DatasetQuery is a search for datasets with a where expression, run by
// the server (query/all_datasets).
type DatasetQuery struct {
	Types       []string // names or globs; all when none
	Collections []string
	Where       string
	Bind        map[string]any // int, int64, float64, string, uuid.UUID
	DataID      dimensions.DataID
	FindFirst   bool
	Limit       int // 0: none
}

func literal(v any) (map[string]any, error) {
	switch x := v.(type) {
	case int:
		return map[string]any{"expression_type": "int", "value": x}, nil
	case int64:
		return map[string]any{"expression_type": "int", "value": x}, nil
	case float64:
		return map[string]any{"expression_type": "float", "value": x}, nil
	case string:
		return map[string]any{"expression_type": "string", "value": x}, nil
	case uuid.UUID:
		return map[string]any{"expression_type": "uuid", "value": x.String()}, nil
	case time.Time:
		return map[string]any{"expression_type": "datetime", "nsec": timespan.FromUTC(x)}, nil
	case timespan.Timespan:
		return map[string]any{"expression_type": "timespan", "begin_nsec": x.Begin, "end_nsec": x.End}, nil
	}
	return nil, fmt.Errorf("%w: bind value %v (%T): want an int, float, string, UUID, time or timespan", errs.ErrUnsupported, v, v)
}

// Datasets streams the datasets a query finds, page by page as the server
// sends them (keep-alive lines are skipped; an error the server reports
// in the stream ends it).
func (c *Client) Datasets(ctx context.Context, q DatasetQuery) iter.Seq2[dataset.Ref, error] {
	return func(yield func(dataset.Ref, error) bool) {
		bind := map[string]any{}
		for k, v := range q.Bind {
			lit, err := literal(v)
			if err != nil {
				yield(dataset.Ref{}, err)
				return
			}
			bind[k] = lit
		}
		types := q.Types
		if len(types) == 0 {
			types = []string{"*"}
		}
		var limit any
		if q.Limit > 0 {
			limit = q.Limit
		}
		dataID := q.DataID
		if dataID == nil {
			dataID = dimensions.DataID{}
		}
		req := map[string]any{"collections": q.Collections, "name": types, "find_first": q.FindFirst, "data_id": dataID,
			"where": q.Where, "bind": bind, "limit": limit, "with_dimension_records": false}
		resp, err := c.do(ctx, "POST", "v1/query/all_datasets", req)
		if err != nil {
			yield(dataset.Ref{}, err)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 256<<20)
		for sc.Scan() {
			var page struct {
				Type  string    `json:"type"`
				Rows  []refWire `json:"rows"`
				Error struct {
					ErrorType string `json:"error_type"`
					Detail    string `json:"detail"`
				} `json:"error"`
			}
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.UseNumber()
			if err := dec.Decode(&page); err != nil {
				yield(dataset.Ref{}, fmt.Errorf("query results from %s: malformed line: %w", c.base, err))
				return
			}
			switch page.Type {
			case "keep-alive":
				continue
			case "error":
				yield(dataset.Ref{}, &UserError{Type: page.Error.ErrorType, Detail: page.Error.Detail})
				return
			}
			for _, w := range page.Rows {
				ref, err := c.refOf(w)
				if !yield(ref, err) || err != nil {
					return
				}
			}
		}
		if err := sc.Err(); err != nil {
			yield(dataset.Ref{}, fmt.Errorf("query results from %s cut short: %w", c.base, err))
		}
	}
}

// File is one file of a dataset, readable at URL.
type File struct {
	URL                                      string
	Auth                                     string // none: a signed URL; otherwise send the token
	Path, Formatter, StorageClass, Component string
	Checksum                                 string
	Size                                     int64
}

// Files returns where a dataset's files can be read (nil when it has none).
func (c *Client) Files(ctx context.Context, id dataset.ID) ([]File, error) {
	var resp struct {
		Artifact *struct {
			FileInfo []struct {
				URL     string `json:"url"`
				Auth    string `json:"auth"`
				Records struct {
					Formatter    string  `json:"formatter"`
					Path         string  `json:"path"`
					StorageClass string  `json:"storage_class"`
					Component    *string `json:"component"`
					Checksum     *string `json:"checksum"`
					FileSize     int64   `json:"file_size"`
				} `json:"datastoreRecords"`
			} `json:"file_info"`
		} `json:"artifact"`
	}
	if err := c.call(ctx, "GET", "v1/get_file/"+id.String(), nil, &resp); err != nil {
		return nil, err
	}
	if resp.Artifact == nil {
		return nil, nil
	}
	var out []File
	for _, fi := range resp.Artifact.FileInfo {
		f := File{URL: fi.URL, Auth: fi.Auth, Path: fi.Records.Path, Formatter: fi.Records.Formatter, StorageClass: fi.Records.StorageClass, Size: fi.Records.FileSize}
		if fi.Records.Component != nil {
			f.Component = *fi.Records.Component
		}
		if fi.Records.Checksum != nil {
			f.Checksum = *fi.Records.Checksum
		}
		out = append(out, f)
	}
	return out, nil
}

// OpenFile reads a file from byte off on. The token goes only where the
// server said it is needed (auth other than "none"), never to a signed URL.
func (c *Client) OpenFile(ctx context.Context, f File, off int64) (io.ReadCloser, error) {
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("file URL %q: %w: not an http(s) URL", f.URL, errs.ErrInvalid)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", f.URL, nil)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	if f.Auth != "" && f.Auth != "none" && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Path, err)
	}
	want := http.StatusOK
	if off > 0 {
		want = http.StatusPartialContent
	}
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil, fmt.Errorf("read %s: %w", f.Path, &StatusError{Status: resp.StatusCode, Detail: string(msg)})
	}
	return resp.Body, nil
}

// Execute runs a query of the query-tree protocol (POST v1/query/execute:
// body is upstream's QueryExecuteRequestModel, {"query": …,
// "result_spec": …}) and streams the rows of its result pages as the server
// sends them, undecoded (a data coordinate, a dimension record, a dataset
// ref, as result_spec asks).
func (c *Client) Execute(ctx context.Context, body any) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		resp, err := c.do(ctx, "POST", "v1/query/execute", body)
		if err != nil {
			yield(nil, err)
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 256<<20)
		for sc.Scan() {
			var page struct {
				Type  string            `json:"type"`
				Rows  []json.RawMessage `json:"rows"`
				Error struct {
					ErrorType string `json:"error_type"`
					Detail    string `json:"detail"`
				} `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &page); err != nil {
				yield(nil, fmt.Errorf("query results from %s: malformed line: %w", c.base, err))
				return
			}
			switch page.Type {
			case "keep-alive":
				continue
			case "error":
				yield(nil, &UserError{Type: page.Error.ErrorType, Detail: page.Error.Detail})
				return
			}
			for _, row := range page.Rows {
				if !yield(row, nil) {
					return
				}
			}
		}
		if err := sc.Err(); err != nil {
			yield(nil, fmt.Errorf("query results from %s cut short: %w", c.base, err))
		}
	}
}

// DataID converts a data ID of the wire (numbers as json.Number, as a
// decoder with UseNumber gives them) to ours: integers as int64, other
// numbers as float64.
func DataID(in map[string]any) dimensions.DataID { return dataIDOf(in) }

// RecordOf converts a record of the wire (DimensionRecord.to_simple's
// "record": numbers as json.Number) to ours: hashes and regions from hex
// to bytes, a timespan from [begin, end] TAI nanoseconds, integers and
// datetimes as int64, floats as float64.
func RecordOf(e *dimensions.Element, in map[string]any) (dimensions.Record, error) {
	types := map[string]string{}
	for _, d := range append(append([]*dimensions.Element{}, e.Required...), e.Implied...) {
		types[d.Name] = d.PrimaryKey().Type
	}
	for _, f := range append(append([]dimensions.Field{}, e.Keys...), e.Metadata...) {
		types[f.Name] = f.Type
	}
	types["region"], types["timespan"] = "region", "timespan"
	rec := dimensions.Record{Element: e, Values: make(map[string]any, len(in))}
	for k, v := range in {
		if v == nil {
			rec.Values[k] = nil
			continue
		}
		bad := func() (dimensions.Record, error) {
			return dimensions.Record{}, fmt.Errorf("%w: %s.%s = %v is not a %s", errs.ErrInvalid, e.Name, k, v, types[k])
		}
		switch types[k] {
		case "int", "datetime":
			n, ok := v.(json.Number)
			i, err := strconv.ParseInt(string(n), 10, 64)
			if !ok || err != nil {
				return bad()
			}
			rec.Values[k] = i
		case "float":
			n, ok := v.(json.Number)
			f, err := n.Float64()
			if !ok || err != nil {
				return bad()
			}
			rec.Values[k] = f
		case "hash", "region", "blob":
			s, ok := v.(string)
			b, err := hex.DecodeString(s)
			if !ok || err != nil {
				return bad()
			}
			rec.Values[k] = b
		case "timespan":
			pair, ok := v.([]any)
			if !ok || len(pair) != 2 {
				return bad()
			}
			var ends [2]int64
			for i, x := range pair {
				n, ok := x.(json.Number)
				t, err := strconv.ParseInt(string(n), 10, 64)
				if !ok || err != nil {
					return bad()
				}
				ends[i] = t
			}
			rec.Values[k] = timespan.Timespan{Begin: ends[0], End: ends[1]}
		default:
			rec.Values[k] = v
		}
	}
	return rec, nil
}

// Ref converts a dataset ref of the wire (SerializedDatasetRef, as the rows
// of a dataset_ref query result) to ours.
func (c *Client) Ref(raw json.RawMessage) (dataset.Ref, error) {
	var w refWire
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return dataset.Ref{}, fmt.Errorf("dataset ref from %s: %w", c.base, err)
	}
	return c.refOf(w)
}
