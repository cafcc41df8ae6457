package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

// universe is GET v1/universe: the repository's dimension configuration.
func (s *Server) universe(ctx context.Context, c *call) error {
	raw, err := c.repo.b.Universe.JSON()
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, object{{"universe", json.RawMessage(raw)}})
	return nil
}

// getDatasetType is GET v1/dataset_type/{name}.
func (s *Server) getDatasetType(ctx context.Context, c *call) error {
	t, err := c.repo.b.DatasetType(ctx, c.r.PathValue("name"))
	if err != nil {
		return asUser(err, errMissingType)
	}
	writeJSON(c.w, http.StatusOK, object{{"dataset_type", datasetTypeOf(t)}})
	return nil
}

// parseID reads a dataset ID from the path; a malformed one is FastAPI's 422.
func parseID(c *call, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.r.PathValue(name))
	if err != nil {
		return id, &httpError{status: errorStatus, detail: fmt.Sprintf("Invalid dataset ID %q", c.r.PathValue(name))}
	}
	return id, nil
}

// queryBool reads a boolean query parameter as FastAPI does.
func queryBool(c *call, name string) (bool, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	switch v {
	case "true", "True", "1", "yes", "on":
		return true, nil
	case "false", "False", "0", "no", "off":
		return false, nil
	}
	return false, &httpError{status: errorStatus, detail: fmt.Sprintf("Query parameter %s: %q is not a boolean", name, v)}
}

// refOut serialises a ref, with its data ID expanded when records is set.
func (s *Server) refOut(ctx context.Context, c *call, ref dataset.Ref, records bool) (datasetRefJSON, error) {
	b := c.repo.b
	if !records {
		return refJSON(b.Universe, ref, nil, nil), nil
	}
	full, recs, err := b.ExpandDataID(ctx, ref.Type.Dimensions.RequiredNames(), requiredOf(ref))
	if err != nil {
		return datasetRefJSON{}, err
	}
	return refJSON(b.Universe, ref, full, recs), nil
}

// requiredOf is a ref's data ID cut to its required dimensions.
func requiredOf(ref dataset.Ref) dimensions.DataID {
	out := dimensions.DataID{}
	for _, e := range ref.Type.Dimensions.Required {
		out[e.Name] = ref.DataID[e.Name]
	}
	return out
}

// getDataset is GET v1/dataset/{id}: the ref, or null for an unknown ID.
func (s *Server) getDataset(ctx context.Context, c *call) error {
	id, err := parseID(c, "id")
	if err != nil {
		return err
	}
	records, err := queryBool(c, "dimension_records")
	if err != nil {
		return err
	}
	ref, err := c.repo.b.Dataset(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		writeJSON(c.w, http.StatusOK, object{{"dataset_ref", nil}})
		return nil
	}
	if err != nil {
		return err
	}
	out, err := s.refOut(ctx, c, ref, records)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, object{{"dataset_ref", out}})
	return nil
}

// getManyDatasets is POST v1/datasets: the refs of the IDs that exist.
func (s *Server) getManyDatasets(ctx context.Context, c *call) error {
	var req getManyDatasetsRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	if len(req.DatasetIDs) > maxItemsPerRequest {
		return &httpError{status: errorStatus, detail: fmt.Sprintf("dataset_ids: at most %d items", maxItemsPerRequest)}
	}
	rows := []datasetRefJSON{}
	for _, id := range req.DatasetIDs {
		ref, err := c.repo.b.Dataset(ctx, id)
		if errors.Is(err, errs.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		rows = append(rows, refJSON(c.repo.b.Universe, ref, nil, nil))
	}
	writeJSON(c.w, http.StatusOK, object{{"type", "dataset_ref"}, {"rows", rows}})
	return nil
}

// dataIDOf converts a JSON data ID (numbers as json.Number) to ours.
func dataIDOf(in map[string]any) (dimensions.DataID, error) {
	out := dimensions.DataID{}
	for k, v := range in {
		switch x := v.(type) {
		case json.Number:
			if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				out[k] = i
			} else if f, err := x.Float64(); err == nil {
				out[k] = f
			} else {
				return nil, fmt.Errorf("%w: data ID value %s=%s", errs.ErrInvalid, k, x)
			}
		case string, bool:
			out[k] = x
		default:
			return nil, fmt.Errorf("%w: data ID value %s=%v is not a number or a string", errs.ErrInvalid, k, v)
		}
	}
	return out, nil
}

// withDefaults fills in the dimensions of g a data ID lacks from the
// request's default data ID, as upstream's RegistryDefaults do.
func withDefaults(g dimensions.Group, id, defaults dimensions.DataID) dimensions.DataID {
	for k, v := range defaults {
		if _, ok := id[k]; !ok && g.Has(k) {
			id[k] = v
		}
	}
	return id
}

// find resolves a find_dataset-like request: the ref, or nil when no
// dataset matches. A find without a timespan goes through via when it is
// set (the repository's finder).
func (s *Server) find(ctx context.Context, c *call, typeName string, rawID, rawDefaults map[string]any, collections []string, ts *[2]int64, via *finder) (*dataset.Ref, error) {
	b := c.repo.b
	id, err := dataIDOf(rawID)
	if err != nil {
		return nil, asUser(err, errDimensionValue)
	}
	defaults, err := dataIDOf(rawDefaults)
	if err != nil {
		return nil, asUser(err, errDimensionValue)
	}
	if len(defaults) > 0 {
		t, err := b.DatasetType(ctx, typeName)
		if err != nil {
			return nil, asUser(err, errMissingType)
		}
		id = withDefaults(t.Dimensions, id, defaults)
	}
	var ref dataset.Ref
	if ts != nil {
		span := timespan.Timespan{Begin: ts[0], End: ts[1]}
		ref, err = b.FindAt(ctx, typeName, id, collections, &span)
	} else if via != nil {
		ref, err = via.find(ctx, typeName, id, collections)
	} else {
		ref, err = b.Find(ctx, typeName, id, collections)
	}
	var mt *dataset.MissingTypeError
	var mc *dataset.MissingCollectionError
	var ce *dataset.CalibrationLookupError
	switch {
	case err == nil:
		return &ref, nil
	case errors.As(err, &mt), errors.As(err, &mc), errors.As(err, &ce):
		return nil, asUser(err, "")
	case errors.Is(err, errs.ErrNotFound):
		return nil, nil
	}
	return nil, asUser(err, errDimensionName)
}

// findDataset is POST v1/find_dataset.
func (s *Server) findDataset(ctx context.Context, c *call) error {
	var req findDatasetRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	// The route takes no connection turn (repoRoute): a plain find waits for
	// the finder's, the others take one here.
	var via *finder
	if req.Timespan == nil && !req.DimensionRecords {
		via = c.repo.finder
	} else {
		release, err := c.repo.admit(ctx)
		if err != nil {
			return err
		}
		defer release()
	}
	ref, err := s.find(ctx, c, req.DatasetType, req.DataID, req.DefaultDataID, req.Collections, req.Timespan, via)
	if err != nil {
		return err
	}
	if ref == nil {
		writeJSON(c.w, http.StatusOK, object{{"dataset_ref", nil}})
		return nil
	}
	out, err := s.refOut(ctx, c, *ref, req.DimensionRecords)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, object{{"dataset_ref", out}})
	return nil
}

// expandDataID is POST v1/expand_data_id: the data ID with its implied
// dimensions and records.
func (s *Server) expandDataID(ctx context.Context, c *call) error {
	var req expandDataIDRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	id, err := dataIDOf(req.DataID)
	if err != nil {
		return asUser(err, errDimensionValue)
	}
	b := c.repo.b
	var dims []string
	for k := range id {
		if e, ok := b.Universe.Element(k); ok && e.IsDimension() {
			dims = append(dims, k)
		}
	}
	g, err := b.Universe.Group(dims...)
	if err != nil {
		return asUser(err, errDimensionName)
	}
	full, recs, err := b.ExpandDataID(ctx, dims, id)
	if errors.Is(err, errs.ErrNotFound) {
		return asUser(err, errDataIDValue)
	}
	if err != nil {
		return asUser(err, errDimensionName)
	}
	writeJSON(c.w, http.StatusOK, object{{"data_coordinate", dataCoordinateJSON{
		DataID: dataIDObject(g, full), Records: recordsObject(b.Universe, g, full, recs),
	}}})
	return nil
}
