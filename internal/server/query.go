package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gobutler/butler/sphgeom"
	"github.com/gobutler/butler/timespan"
	"github.com/google/uuid"
)

// pageRows is how many rows one line of a streamed answer carries.
const pageRows = 1000

// keepAlive is QueryKeepAliveModel.
var keepAliveLine = []byte(`{"type":"keep-alive"}` + "\n")

// stream answers a query as upstream's execute_streaming_query: a slot of
// the query limits first (else 503 or 429 with Retry-After), then status
// 200 and one JSON object per line (application/jsonlines) as produce emits
// pages, a keep-alive line whenever it has been silent for KeepAlive, and an
// in-band {"type": "error"} line for a user error met on the way. Another
// error aborts the response, so the client sees a broken stream, never a
// short answer that looks complete. The slot is released only once produce
// has returned, even when the client has gone.
func (s *Server) stream(ctx context.Context, c *call, produce func(ctx context.Context, emit func(page any) error) error) error {
	release, err := s.limits.acquire(c.user, s.opts.RetryAfter)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			reason := "server"
			if he.status == http.StatusTooManyRequests {
				reason = "user"
			}
			s.metrics.refusals.WithLabelValues(reason).Inc()
		}
		return err
	}
	defer release()
	s.metrics.queries.Inc()
	defer s.metrics.queries.Dec()

	w := c.w
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/jsonlines")
	// Proxies (nginx, the Kubernetes ingress) must not hold keep-alives back.
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The producer holds each page back until the next one (or its end)
	// comes, so that the last page is known: it goes out unflushed, with
	// the end of the response, and a one-page answer (the usual query) is
	// one write to the socket with the header, not three.
	pages := make(chan streamPage, 1)
	done := make(chan error, 1)
	go func() {
		defer close(pages)
		if s.queryHook != nil {
			s.queryHook(ctx)
		}
		send := func(p streamPage) error {
			select {
			case pages <- p:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var pending any
		err := produce(ctx, func(p any) error {
			if pending != nil {
				if err := send(streamPage{page: pending}); err != nil {
					return err
				}
			}
			pending = p
			return nil
		})
		// A page before a user error still goes out, before the error line.
		var ue *userError
		if pending != nil && (err == nil || errors.As(err, &ue)) {
			if serr := send(streamPage{page: pending, last: err == nil}); err == nil {
				err = serr
			}
		}
		done <- err
	}()
	// finish stops the producer and waits for it, draining what it sent.
	finish := func() error {
		cancel()
		for range pages {
		}
		return <-done
	}
	write := func(line []byte, flush bool) error {
		if _, err := w.Write(line); err != nil {
			return err
		}
		if flush && flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	// The header goes out at the first page, or after headerWait without
	// one (so that a client sees the status of a slow query at once), then
	// a keep-alive line after each KeepAlive of silence.
	flushed := false
	wait := min(headerWait, s.opts.KeepAlive)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case p, ok := <-pages:
			if !ok {
				err := <-done
				if err == nil {
					return nil
				}
				var ue *userError
				if errors.As(err, &ue) {
					line, _ := marshal(object{{"type", "error"}, {"error", errorResponse{ErrorType: ue.typ, Detail: ue.err.Error()}}})
					write(append(line, '\n'), false)
					return nil
				}
				if ctx.Err() != nil {
					return nil // the client went away
				}
				s.log.Error("streaming query failed", "route", routeOf(c.w), "user", c.user, "err", err.Error())
				panic(http.ErrAbortHandler)
			}
			line, err := marshal(p.page)
			if err == nil {
				err = write(append(line, '\n'), !p.last)
			}
			if err != nil {
				finish()
				return nil
			}
			flushed = true
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(s.opts.KeepAlive)
		case <-timer.C:
			if !flushed {
				flushed = true
				if flusher != nil {
					flusher.Flush()
				}
				timer.Reset(s.opts.KeepAlive - wait)
				continue
			}
			if err := write(keepAliveLine, true); err != nil {
				finish()
				return nil
			}
			timer.Reset(s.opts.KeepAlive)
		case <-ctx.Done():
			finish()
			return nil
		}
	}
}

// streamPage is a page of a streamed answer; last says no other follows.
type streamPage struct {
	page any
	last bool
}

// headerWait is how long a streamed answer's status and headers wait for
// its first page before they are sent alone.
const headerWait = 50 * time.Millisecond

// bindValue converts a ColumnLiteral bind value to ours.
func bindValue(name string, lit columnLiteral) (any, error) {
	switch lit.ExpressionType {
	case "int":
		var n json.Number
		if err := json.Unmarshal(lit.Value, &n); err == nil {
			if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
				return i, nil
			}
		}
	case "float":
		var f float64
		if err := json.Unmarshal(lit.Value, &f); err == nil {
			return f, nil
		}
	case "string":
		var s string
		if err := json.Unmarshal(lit.Value, &s); err == nil {
			return s, nil
		}
	case "uuid":
		var s string
		if err := json.Unmarshal(lit.Value, &s); err == nil {
			if id, err := uuid.Parse(s); err == nil {
				return id, nil
			}
		}
	case "datetime":
		if lit.Nsec != nil {
			return timespan.ToUTC(*lit.Nsec), nil // the registry's where reads a time.Time as UTC
		}
	case "region":
		if lit.Encoded != nil {
			if reg, err := sphgeom.DecodeBase64(*lit.Encoded); err == nil {
				return reg, nil
			}
		}
	case "timespan":
		if lit.BeginNsec != nil && lit.EndNsec != nil {
			if *lit.BeginNsec >= *lit.EndNsec {
				return timespan.Empty, nil
			}
			return timespan.Timespan{Begin: *lit.BeginNsec, End: *lit.EndNsec}, nil
		}
	default:
		return nil, &userError{typ: errUnimplemented, err: fmt.Errorf("bind %s: %s literals are not supported by this server yet", name, lit.ExpressionType)}
	}
	return nil, &userError{typ: errInvalidQuery, err: fmt.Errorf("bind %s: malformed %s literal %s", name, lit.ExpressionType, lit.Value)}
}

// queryAllDatasets is POST v1/query/all_datasets: the datasets of the types
// (names or globs) in the collections, streamed in pages of dataset refs.
func (s *Server) queryAllDatasets(ctx context.Context, c *call) error {
	var req queryAllDatasetsRequest
	if err := decode(c.r, &req); err != nil {
		return err
	}
	b := c.repo.b
	bind := map[string]any{}
	for k, lit := range req.Bind {
		v, err := bindValue(k, lit)
		if err != nil {
			return err
		}
		bind[k] = v
	}
	id, err := dataIDOf(req.DataID)
	if err != nil {
		return asUser(err, errDimensionValue)
	}
	defaults, err := dataIDOf(req.DefaultDataID)
	if err != nil {
		return asUser(err, errDimensionValue)
	}
	for k, v := range defaults {
		if _, ok := id[k]; !ok {
			if e, ok := b.Universe.Element(k); ok && e.Governor {
				id[k] = v
			}
		}
	}
	if len(req.Collections) == 0 {
		return &userError{typ: errMissingCollection, err: errors.New("no collections given to search")}
	}
	limit := 0
	if req.Limit != nil {
		limit = max(*req.Limit, -*req.Limit)
	}
	q := b.Query().Collections(req.Collections...).Where(req.Where, bind).FindFirst(req.FindFirst).Limit(limit, 0)
	if len(id) > 0 {
		q = q.DataID(id)
	}
	names := req.Name
	if len(names) == 0 {
		names = []string{"*"}
	}
	return s.stream(ctx, c, func(ctx context.Context, emit func(any) error) error {
		rows := make([]datasetRefJSON, 0, pageRows)
		flush := func() error {
			if len(rows) == 0 {
				return nil
			}
			err := emit(object{{"type", "dataset_ref"}, {"rows", rows}})
			rows = make([]datasetRefJSON, 0, pageRows)
			return err
		}
		for ref, err := range q.Datasets(ctx, names...) {
			if err != nil {
				return asUser(err, errInvalidQuery)
			}
			out, err := s.refOut(ctx, c, ref, req.WithDimensionRecords)
			if err != nil {
				return err
			}
			if rows = append(rows, out); len(rows) == pageRows {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return flush()
	})
}
