package server

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// reqInfo is what the access log learns while a request is served.
type reqInfo struct {
	route string
	user  string
}

// infoOf finds the request's reqInfo on the recorder logged wrapped its
// ResponseWriter in (a request's context would need a copy of the request
// to carry it).
func infoOf(w http.ResponseWriter) *reqInfo {
	for {
		switch v := w.(type) {
		case *recorder:
			return &v.info
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return &reqInfo{}
		}
	}
}

func setUser(w http.ResponseWriter, user string) { infoOf(w).user = user }
func userOf(w http.ResponseWriter) string        { return infoOf(w).user }
func routeOf(w http.ResponseWriter) string       { return infoOf(w).route }

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	info   reqInfo
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streamed answers reach the client line by line.
func (w *recorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logged wraps a route: one JSON access-log line per request with the user,
// route, repository, status, bytes and duration. The query string (which
// holds URL signatures) and headers (which hold tokens) are never logged.
func (s *Server) logged(route string, h http.HandlerFunc) http.HandlerFunc {
	rm := s.metrics.route(route)
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w, info: reqInfo{route: route}}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			d := time.Since(start)
			rm.observe(status, d)
			s.accessLog(r, rec, status, start.Add(d), d)
		}()
		h(rec, r)
	}
}

// accessLog writes a request's access-log line: straight to
// Options.AccessLog when set (a busy server writes thousands a second, and
// slog's handler cost about as much as the request's own JSON), else
// through the Logger, with the same keys.
func (s *Server) accessLog(r *http.Request, rec *recorder, status int, now time.Time, d time.Duration) {
	ms := float64(d.Microseconds()) / 1000
	if s.opts.AccessLog == nil {
		s.log.LogAttrs(r.Context(), levelOf(status), "request",
			slog.String("user", rec.info.user), slog.String("method", r.Method), slog.String("route", rec.info.route),
			slog.String("repo", r.PathValue("label")), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int64("bytes", rec.bytes),
			slog.Float64("duration_ms", ms),
			slog.String("request_id", r.Header.Get(ClientRequestIDHeader)), slog.String("remote", r.RemoteAddr))
		return
	}
	bp, _ := s.lines.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], `{"time":"`...)
	b = now.AppendFormat(b, time.RFC3339Nano)
	b = append(append(append(b, `","level":"`...), levelOf(status).String()...), `","msg":"request","user":`...)
	b = appendString(b, rec.info.user)
	b = appendString(append(b, `,"method":`...), r.Method)
	b = appendString(append(b, `,"route":`...), rec.info.route)
	b = appendString(append(b, `,"repo":`...), r.PathValue("label"))
	b = appendString(append(b, `,"path":`...), r.URL.Path)
	b = strconv.AppendInt(append(b, `,"status":`...), int64(status), 10)
	b = strconv.AppendInt(append(b, `,"bytes":`...), rec.bytes, 10)
	b = strconv.AppendFloat(append(b, `,"duration_ms":`...), ms, 'f', -1, 64)
	b = appendString(append(b, `,"request_id":`...), r.Header.Get(ClientRequestIDHeader))
	b = appendString(append(b, `,"remote":`...), r.RemoteAddr)
	b = append(b, "}\n"...)
	s.opts.AccessLog.Write(b)
	*bp = b
	s.lines.Put(bp)
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// levelOf logs server errors as errors, the rest as information.
func levelOf(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}

// LogWriter gathers the lines of a busy server's log and writes them at
// most every interval (or when 64 KiB wait), instead of one write system
// call per request. Close writes what is left.
type LogWriter struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// NewLogWriter returns a LogWriter to w flushed every interval.
func NewLogWriter(w io.Writer, interval time.Duration) *LogWriter {
	l := &LogWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				l.Flush()
			case <-l.stop:
				return
			}
		}
	}()
	return l
}

func (l *LogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Flush writes the lines waiting.
func (l *LogWriter) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Flush()
}

// Close stops the flushing and writes what is left.
func (l *LogWriter) Close() error {
	close(l.stop)
	<-l.done
	return l.Flush()
}
