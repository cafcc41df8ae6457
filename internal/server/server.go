package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobutler/butler"
	"github.com/gobutler/butler/errs"
)

// AuthMode says how the server knows who is asking.
type AuthMode string

const (
	// AuthNone: no authentication; every repository is readable by anyone
	// who can reach the server (a private network or loopback).
	AuthNone AuthMode = "none"
	// AuthTokens: "Authorization: Bearer TOKEN" with a token of the tokens
	// file (`butler token create`), which gives the user and groups.
	AuthTokens AuthMode = "tokens"
	// AuthGafaelfawr: an authenticating proxy in front (Rubin's Gafaelfawr,
	// upstream's rubin_science_platform mode) sets X-Auth-Request-User; the
	// server trusts it and must be reachable only through the proxy. The
	// user's groups come from Gafaelfawr's user-info route with the delegated
	// X-Auth-Request-Token (Options.GafaelfawrURL), as upstream's server
	// asks, or without a URL from an X-Auth-Request-Groups header.
	AuthGafaelfawr AuthMode = "gafaelfawr"
)

// ParseAuthMode reads none, tokens or gafaelfawr.
func ParseAuthMode(s string) (AuthMode, error) {
	switch m := AuthMode(s); m {
	case AuthNone, AuthTokens, AuthGafaelfawr:
		return m, nil
	}
	return "", fmt.Errorf("%w: auth mode %q: want tokens, none or gafaelfawr", errs.ErrInvalid, s)
}

// Options configure a Server. Zero values take the defaults named.
type Options struct {
	Repositories map[string]Repository
	Auth         AuthMode
	// TokensFile is the tokens file of AuthTokens; it is re-read when it
	// changes, checked at most once per TokenReload (1 s).
	TokensFile  string
	TokenReload time.Duration
	// SigningKey signs the download URLs of files the server serves itself.
	// Servers behind one load balancer need the same key; nil: a random key
	// (URLs then work only on the server that made them).
	SigningKey []byte
	// PublicURL is the base URL clients reach the server at
	// (https://host[:port]); "" takes it from each request.
	PublicURL string
	// Logger receives the access log (one JSON line per request) and errors.
	Logger *slog.Logger
	// AccessLog, when set, receives the access-log lines instead of Logger,
	// written directly in the JSON Logger's shape (cheaper: a line per
	// request). Each line is one Write.
	AccessLog io.Writer
	// Query limits, as upstream's: MaxQueries (25) streaming queries at once
	// per server (then 503), MaxQueriesPerUser (2) per user (then 429), each
	// refusal with Retry-After: RetryAfter (5 s).
	MaxQueries, MaxQueriesPerUser int
	RetryAfter                    time.Duration
	// KeepAlive is how long a streaming query may be silent before a
	// keep-alive line is sent (15 s).
	KeepAlive time.Duration
	// URLLifetime is how long a file URL stays valid (1 h, as upstream).
	URLLifetime time.Duration
	// RequestTimeout bounds a non-streaming request (60 s); MaxBodyBytes its
	// body (16 MiB).
	RequestTimeout time.Duration
	MaxBodyBytes   int64
	// DBConnections is the size of each repository's database connection
	// pool, all kept open between requests (DefaultDBConnections).
	DBConnections int
	// SearchCacheTTL is how long a repository keeps what a dataset search
	// resolves (collections, chains, summaries; Butler.SetSearchCache): a
	// change made by another process is seen at most this late (1 s;
	// negative: no cache).
	SearchCacheTTL time.Duration
	// Open opens a repository; nil: butler.Open, read-only.
	Open func(ctx context.Context, config string) (*butler.Butler, error)
	// GafaelfawrURL is the base URL of Gafaelfawr (https://host) whose
	// /auth/api/v1/user-info gives a user's groups under AuthGafaelfawr;
	// an answer is reused for GroupsTTL (5 min).
	GafaelfawrURL string
	GroupsTTL     time.Duration
}

// Server is the HTTP handler of `butler serve`.
type Server struct {
	opts    Options
	repos   map[string]*repo
	tokens  *tokenStore
	limits  *queryLimits
	key     []byte
	mux     *http.ServeMux
	log     *slog.Logger
	metrics *metrics
	groups  *groupLookup // AuthGafaelfawr with a GafaelfawrURL
	// lines holds the buffers access-log lines are built in.
	lines sync.Pool
	// queryHook, set by tests, runs as each streaming query starts (upstream's
	// _block_query_for_unit_test).
	queryHook func(ctx context.Context)
}

type repo struct {
	label string
	cfg   Repository
	b     *butler.Butler
	// turns admits the non-streaming requests to the repository's database
	// connections, as many at a time as there are connections, in order of
	// arrival: a channel's waiters are served first come, first served,
	// while database/sql hands a freed connection to a waiter chosen at
	// random, which under load left some requests waiting seconds behind
	// hundreds that came later (p99 8x the median).
	turns chan struct{}
	// finder answers find_dataset requests, several in one query when they
	// queue up.
	finder *finder
	// recent holds the files get_file has just read, for their downloads.
	recent *recentFiles
}

// DefaultDBConnections is the size of a repository's connection pool when
// none is given: two per CPU the server may use, at least 4. More
// connections than the cores can keep busy only add database backends
// contending for CPU: on the 2-core benchmark (server, PostgreSQL and load
// on one machine) 4 connections held the mixed load's p99 at 20-24 ms in 3
// runs of 3, where 10 tipped into a backlog in 2 of 3.
func DefaultDBConnections() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// findWorkers is how many finder workers a repository gets: two per CPU
// the server may use, at most one per connection. Fewer workers make
// bigger batches when the server falls behind: on 2 cores, 4 workers
// answered 7,000 finds/s with a p99 of 15 ms where 10 gave 29 ms.
func findWorkers(connections int) int {
	return max(1, min(connections, 2*runtime.GOMAXPROCS(0)))
}

// admit waits for one of the repository's connection turns; release gives
// it back.
func (rp *repo) admit(ctx context.Context) (release func(), err error) {
	if rp.turns == nil {
		return func() {}, nil
	}
	select {
	case rp.turns <- struct{}{}:
		return func() { <-rp.turns }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// New opens every repository of opts (any failing is an error naming it) and
// returns the server.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Auth == "" {
		opts.Auth = AuthTokens
	}
	if _, err := ParseAuthMode(string(opts.Auth)); err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.TokenReload, time.Second)
	def(&opts.RetryAfter, 5*time.Second)
	def(&opts.KeepAlive, 15*time.Second)
	def(&opts.URLLifetime, time.Hour)
	def(&opts.RequestTimeout, 60*time.Second)
	def(&opts.SearchCacheTTL, time.Second)
	def(&opts.GroupsTTL, 5*time.Minute)
	if opts.MaxQueries == 0 {
		opts.MaxQueries = 25
	}
	if opts.MaxQueriesPerUser == 0 {
		opts.MaxQueriesPerUser = 2
	}
	if opts.DBConnections == 0 {
		opts.DBConnections = DefaultDBConnections()
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 16 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if opts.Open == nil {
		opts.Open = func(ctx context.Context, config string) (*butler.Butler, error) {
			return butler.Open(ctx, config, butler.OpenOptions{})
		}
	}
	if opts.PublicURL != "" {
		opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
		if !strings.HasPrefix(opts.PublicURL, "http://") && !strings.HasPrefix(opts.PublicURL, "https://") {
			return nil, fmt.Errorf("%w: public URL %q: want http:// or https://", errs.ErrInvalid, opts.PublicURL)
		}
	}
	if len(opts.Repositories) == 0 {
		return nil, fmt.Errorf("%w: no repositories to serve", errs.ErrInvalid)
	}
	s := &Server{opts: opts, repos: map[string]*repo{}, limits: newQueryLimits(opts.MaxQueries, opts.MaxQueriesPerUser), log: opts.Logger, metrics: newMetrics()}
	if opts.Auth == AuthTokens {
		if opts.TokensFile == "" {
			return nil, fmt.Errorf("%w: --auth tokens needs a tokens file (--tokens FILE; `butler token create` makes one)", errs.ErrInvalid)
		}
		ts, err := newTokenStore(opts.TokensFile, opts.TokenReload)
		if err != nil {
			return nil, err
		}
		s.tokens = ts
	}
	if opts.GafaelfawrURL != "" {
		if opts.Auth != AuthGafaelfawr {
			return nil, fmt.Errorf("%w: a Gafaelfawr URL needs --auth gafaelfawr", errs.ErrInvalid)
		}
		if u, err := url.Parse(opts.GafaelfawrURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: Gafaelfawr URL %q: want http(s)://HOST", errs.ErrInvalid, opts.GafaelfawrURL)
		}
		s.groups = newGroupLookup(opts.GafaelfawrURL, opts.GroupsTTL)
	}
	s.key = opts.SigningKey
	if len(s.key) == 0 {
		s.key = make([]byte, 32)
		if _, err := rand.Read(s.key); err != nil {
			return nil, err
		}
	}
	for _, label := range labels(opts.Repositories) {
		cfg := opts.Repositories[label]
		b, err := opts.Open(ctx, cfg.Config)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("repository %s: %w", label, err)
		}
		b.SetConnectionPool(opts.DBConnections, opts.DBConnections)
		b.SetSearchCache(max(opts.SearchCacheTTL, 0))
		if err := b.WarmConnectionPool(ctx, opts.DBConnections); err != nil {
			b.Close()
			s.Close()
			return nil, fmt.Errorf("repository %s: %w", label, err)
		}
		rp := &repo{label: label, cfg: cfg, b: b, recent: newRecentFiles(opts.SearchCacheTTL)}
		if opts.DBConnections > 0 {
			rp.turns = make(chan struct{}, opts.DBConnections)
		}
		rp.finder = newFinder(b, rp.turns, findWorkers(opts.DBConnections), opts.RequestTimeout, s.metrics.findBatch)
		s.repos[label] = rp
	}
	s.routes()
	return s, nil
}

// Close closes the repositories.
func (s *Server) Close() error {
	var errList []error
	for _, r := range s.repos {
		if r.finder != nil {
			r.finder.close()
		}
		errList = append(errList, r.b.Close())
	}
	return errors.Join(errList...)
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// call is one request to a repository route: who asks, about what.
type call struct {
	repo *repo
	user string
	w    http.ResponseWriter
	r    *http.Request
}

// handlerFunc serves a route; an error it returns becomes the response.
type handlerFunc func(ctx context.Context, c *call) error

// httpError is a refusal with a status and a detail (FastAPI's HTTPException).
type httpError struct {
	status  int
	detail  string
	headers map[string]string
}

func (e *httpError) Error() string { return e.detail }

// userError is a ButlerUserError: 422 with error_type and detail.
type userError struct {
	typ string
	err error
}

func (e *userError) Error() string { return e.err.Error() }
func (e *userError) Unwrap() error { return e.err }

// detailError is an error message written as upstream writes it (capitalised).
type detailError string

func (e detailError) Error() string { return string(e) }

// asUser classifies err as a user error of fallback type when it is one.
func asUser(err error, fallback string) error {
	if t := userErrorType(err, fallback); t != "" {
		return &userError{typ: t, err: err}
	}
	return err
}

const repoPrefix = "/api/butler/repo/{label}"

// routes registers every route.
func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	m.HandleFunc("GET /{$}", s.logged("health", s.health))
	m.Handle("GET /metrics", s.metrics.handler)
	m.HandleFunc("GET "+repoPrefix+"/butler.yaml", s.logged("butler.yaml", s.clientConfig))
	m.HandleFunc("GET "+repoPrefix+"/butler.json", s.logged("butler.json", s.clientConfig))
	m.HandleFunc("GET "+repoPrefix+"/dataset/{id}/download", s.logged("download", s.download))
	v1 := func(pattern, route string, h handlerFunc, streaming bool) {
		method, path, _ := strings.Cut(pattern, " ")
		m.HandleFunc(method+" "+repoPrefix+"/v1/"+path, s.logged(route, s.repoRoute(h, streaming, !streaming)))
	}
	v1("GET universe", "universe", s.universe, false)
	v1("GET dataset_type/{name}", "dataset_type", s.getDatasetType, false)
	v1("GET dataset/{id}", "dataset", s.getDataset, false)
	v1("POST datasets", "datasets", s.getManyDatasets, false)
	// Its finds take connection turns themselves (finder), a batch at a time.
	m.HandleFunc("POST "+repoPrefix+"/v1/find_dataset", s.logged("find_dataset", s.repoRoute(s.findDataset, false, false)))
	v1("POST expand_data_id", "expand_data_id", s.expandDataID, false)
	v1("GET get_file/{id}", "get_file", s.getFile, false)
	v1("POST get_file_by_data_id", "get_file_by_data_id", s.getFileByDataID, false)
	v1("GET dataset/{id}/download", "dataset_download", s.redirectDownload, false)
	v1("POST file_transfer", "file_transfer", s.fileTransfer, false)
	v1("GET collection_info", "collection_info", s.collectionInfo, false)
	v1("POST query_collections", "query_collections", s.queryCollections, false)
	v1("POST query_collection_info", "query_collection_info", s.queryCollectionInfo, false)
	v1("POST query_dataset_types", "query_dataset_types", s.queryDatasetTypes, false)
	v1("POST query/all_datasets", "query_all_datasets", s.queryAllDatasets, true)
	v1("POST query/execute", "query_execute", s.queryExecute, true)
	v1("POST query/count", "query_count", s.queryCount, false)
	v1("POST query/any", "query_any", s.queryAny, false)
	v1("POST query/explain", "query_explain", s.queryExplain, false)
}

// repoRoute authenticates and authorizes a repository route, then runs h
// with the request's limits: a non-streaming one within RequestTimeout and,
// when admit says so, once one of the repository's connection turns is its.
func (s *Server) repoRoute(h handlerFunc, streaming, admit bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, groups, err := s.authenticate(r)
		if err == nil {
			setUser(w, user)
		}
		var rp *repo
		if err == nil {
			rp, err = s.authorize(r, r.PathValue("label"), user, groups)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ctx := r.Context()
		if !streaming {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.opts.RequestTimeout)
			defer cancel()
		}
		if admit {
			release, err := rp.admit(ctx)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			defer release()
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		if err := h(ctx, &call{repo: rp, user: user, w: w, r: r}); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// authenticate says who the request is from: the user and their groups.
func (s *Server) authenticate(r *http.Request) (string, []string, error) {
	switch s.opts.Auth {
	case AuthNone:
		return "", nil, nil
	case AuthGafaelfawr:
		user := r.Header.Get(AuthUserHeader)
		if user == "" {
			// As upstream: the proxy must have set the header.
			return "", nil, &httpError{status: http.StatusForbidden, detail: "Required X-Auth-Request-User header was not provided"}
		}
		if s.groups != nil {
			return user, nil, nil // groups are looked up by authorize, when needed
		}
		var groups []string
		for _, g := range strings.Split(r.Header.Get(AuthGroupsHeader), ",") {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
		return user, groups, nil
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		token, ok = strings.CutPrefix(auth, "bearer ")
	}
	if !ok || token == "" {
		return "", nil, errUnauthorized
	}
	t, ok := s.tokens.lookup(strings.TrimSpace(token))
	if !ok {
		return "", nil, errUnauthorized
	}
	return t.User, t.Groups, nil
}

// authorize returns the repository if user may read it. An unknown label
// and a repository outside the user's groups get the same answer.
func (s *Server) authorize(r *http.Request, label, user string, groups []string) (*repo, error) {
	rp, ok := s.repos[label]
	if s.opts.Auth == AuthNone {
		if !ok {
			return nil, &httpError{status: http.StatusNotFound, detail: fmt.Sprintf("Butler repository %q not found", label)}
		}
		return rp, nil
	}
	if ok && rp.cfg.Public() {
		return rp, nil
	}
	if ok && s.groups != nil {
		token := r.Header.Get(AuthTokenHeader)
		if token == "" {
			return nil, &httpError{status: http.StatusForbidden, detail: "Required X-Auth-Request-Token header was not provided"}
		}
		var err error
		if groups, err = s.groups.groups(r.Context(), token); err != nil {
			return nil, err
		}
	}
	if ok && slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(rp.cfg.Groups, g) }) {
		return rp, nil
	}
	return nil, &httpError{status: http.StatusForbidden, detail: fmt.Sprintf("User %s does not have permission to access Butler repository '%s'", user, label)}
}

// writeError answers a failed request as upstream does.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var ue *userError
	var mb *http.MaxBytesError
	switch {
	case errors.Is(err, errUnauthorized):
		w.Header().Set("WWW-Authenticate", `Bearer realm="butler"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "Authentication required: a valid token (Authorization: Bearer …) is needed"})
	case errors.As(err, &he):
		for k, v := range he.headers {
			w.Header().Set(k, v)
		}
		writeJSON(w, he.status, map[string]string{"detail": he.detail})
	case errors.As(err, &ue):
		writeJSON(w, errorStatus, errorResponse{ErrorType: ue.typ, Detail: ue.err.Error()})
	case errors.As(err, &mb):
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"detail": fmt.Sprintf("Request body larger than %d bytes", mb.Limit)})
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"detail": "The request took too long"})
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		w.WriteHeader(499)
	case butler.IsTransient(err):
		w.Header().Set("Retry-After", strconv.Itoa(int(s.opts.RetryAfter/time.Second)))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"detail": "The repository's database is unavailable; try again"})
		s.log.Error("request failed", "route", routeOf(w), "err", err.Error())
	default:
		s.log.Error("request failed", "route", routeOf(w), "user", userOf(w), "request_id", r.Header.Get(ClientRequestIDHeader), "err", err.Error())
		writeJSON(w, http.StatusInternalServerError, map[string]string{"detail": "Internal Server Error"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"detail":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

// decode reads a JSON request body into v; malformed input is FastAPI's 422.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		return &httpError{status: errorStatus, detail: "Invalid request body: " + err.Error()}
	}
	return nil
}

// health is GET /: the application's metadata (upstream's Safir Metadata).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, object{
		{"name", "butler"},
		{"version", version()},
		{"description", "Go data butler server speaking lsst.daf.butler's remote butler protocol"},
		{"repository_url", "https://github.com/gobutler/butler"},
		{"upstream_protocol_commit", UpstreamCommit},
	})
}

// clientConfig is butler.yaml / butler.json: the configuration a client
// needs, with the URL relative to where it was fetched (<butlerRoot>).
func (s *Server) clientConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, object{
		{"cls", "lsst.daf.butler.remote_butler.RemoteButler"},
		{"remote_butler", object{{"url", "<butlerRoot>"}, {"authentication", "rubin_science_platform"}}},
	})
}
