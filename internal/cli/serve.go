package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"time"

	"github.com/gobutler/butler/internal/server"
	"github.com/spf13/cobra"
)

type serveOptions struct {
	listen, repositories, auth, tokens string
	tlsCert, tlsKey, publicURL         string
	signingKeyFile, gafaelfawrURL      string
	cacheTTL                           time.Duration
	dbConnections                      int
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve --repositories FILE [--listen ADDR] [--auth tokens --tokens FILE | --auth none | --auth gafaelfawr]",
		Short: "Serve repositories over HTTP with daf_butler's remote butler protocol (read-only)",
		Long: `Serve one or more repositories over HTTP, speaking lsst.daf.butler's remote butler
protocol (v1), so that users query them with a token instead of database credentials and
read files through short-lived signed URLs. Read-only.

The repositories file is YAML, one entry per repository label:

    main:
      config: /data/repo/butler.yaml       # or the directory, an alias, s3://…
      groups: [rubin, friends]             # ['*']: everyone who can authenticate

A repository is then at http(s)://HOST/api/butler/repo/LABEL (its client configuration at
…/LABEL/butler.yaml). Authentication:

  --auth tokens       "Authorization: Bearer TOKEN" with a token of --tokens FILE
                      (made by 'butler token create'; re-read when it changes)
  --auth gafaelfawr   trust X-Auth-Request-User from an authenticating proxy (reach the
                      server only through it); the user's groups come from Gafaelfawr's
                      user-info route with the delegated X-Auth-Request-Token, at
                      --gafaelfawr-url (as upstream; without it, from X-Auth-Request-Groups)
  --auth none         no authentication: everything is readable (loopback, private networks)

Files of S3 datastores come back as presigned GET URLs (valid one hour); files of other
datastores are served by this server at signed URLs that expire after one hour, with HTTP
range support. Servers behind one load balancer need the same --signing-key-file.
Streaming queries are limited to 25 at once per server (503 beyond) and 2 per user (429
beyond), with Retry-After. GET / is a health check, GET /metrics Prometheus metrics. One
JSON access-log line per request goes to standard error (tokens and URL signatures never).
SIGTERM or SIGINT stops it gracefully: requests in flight finish (at most 30 s).

Exit status: 0 stopped cleanly, 1 failure (bad repositories file, repository that does not
open, address in use), 2 usage error.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runServe(c.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on (HOST:PORT; port 0 picks a free one)")
	f.StringVar(&o.repositories, "repositories", "", "YAML file of the repositories to serve: LABEL: {config: PATH, groups: [GROUP, …]}")
	f.StringVar(&o.auth, "auth", "tokens", "authentication: tokens, none or gafaelfawr")
	f.StringVar(&o.tokens, "tokens", "", "tokens file of --auth tokens (see 'butler token')")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); needs --tls-key")
	f.StringVar(&o.tlsKey, "tls-key", "", "private key (PEM) of --tls-cert")
	f.StringVar(&o.publicURL, "public-url", "", "base URL clients reach the server at, for the file URLs it signs (default: from each request)")
	f.StringVar(&o.signingKeyFile, "signing-key-file", "", "file holding the key (at least 32 bytes) that signs file URLs (default: a random key per process)")
	f.DurationVar(&o.cacheTTL, "cache-ttl", time.Second, "reuse what a dataset search resolves (collections, chains, summaries) for this long: changes by others show at most this late (0: off)")
	f.IntVar(&o.dbConnections, "db-connections", 0, "database connections per repository, kept open (default: 2 per CPU, at least 4)")
	f.StringVar(&o.gafaelfawrURL, "gafaelfawr-url", "", "base URL of Gafaelfawr (https://HOST), asked for users' groups under --auth gafaelfawr (default: $DAF_BUTLER_SERVER_GAFAELFAWR_URL)")
	return cmd
}

func runServe(ctx context.Context, g *globals, o serveOptions) error {
	if o.repositories == "" {
		return usagef("serve: --repositories FILE is required")
	}
	mode, err := server.ParseAuthMode(o.auth)
	if err != nil {
		return usagef("serve: %v", err)
	}
	if mode == server.AuthTokens && o.tokens == "" {
		return usagef("serve: --auth tokens needs --tokens FILE (make one with 'butler token create')")
	}
	if mode != server.AuthTokens && o.tokens != "" {
		return usagef("serve: --tokens is only for --auth tokens")
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("serve: give both --tls-cert and --tls-key, or neither")
	}
	repos, err := server.ReadRepositories(o.repositories)
	if err != nil {
		return err
	}
	var key []byte
	if o.signingKeyFile != "" {
		data, err := os.ReadFile(o.signingKeyFile)
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		if key = bytes.TrimSpace(data); len(key) < 32 {
			return fmt.Errorf("signing key %s: %d bytes, want at least 32", o.signingKeyFile, len(key))
		}
	}
	serverGC()
	// The access log is written in batches (every 100 ms), not a write per request.
	logw := server.NewLogWriter(g.stderr, 100*time.Millisecond)
	defer logw.Close()
	logger := slog.New(slog.NewJSONHandler(logw, nil))
	s, err := server.New(ctx, server.Options{
		Repositories: repos, Auth: mode, TokensFile: o.tokens, SigningKey: key, PublicURL: o.publicURL, Logger: logger, AccessLog: logw,
		SearchCacheTTL: noneIfZero(o.cacheTTL), DBConnections: o.dbConnections, GafaelfawrURL: gafaelfawrURL(o, mode),
	})
	if err != nil {
		return err
	}
	defer s.Close()
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	return server.ListenAndServe(ctx, s, server.ListenOptions{
		Addr: o.listen, TLSCert: o.tlsCert, TLSKey: o.tlsKey,
		Ready: func(addr string) {
			logger.Info("listening", "url", scheme+"://"+addr, "repositories", len(repos), "auth", string(mode))
		},
	})
}

// noneIfZero maps a flag's 0 (off) to the server option's "none" (negative).
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// gafaelfawrURL is --gafaelfawr-url, or under --auth gafaelfawr upstream's
// DAF_BUTLER_SERVER_GAFAELFAWR_URL (its "DISABLED" means none).
func gafaelfawrURL(o serveOptions, mode server.AuthMode) string {
	if o.gafaelfawrURL != "" || mode != server.AuthGafaelfawr {
		return o.gafaelfawrURL
	}
	if u := os.Getenv("DAF_BUTLER_SERVER_GAFAELFAWR_URL"); u != "DISABLED" {
		return u
	}
	return ""
}

// serverGCPercent is the garbage collector's GOGC while serving. A server's
// live heap is small (20-30 MiB over a 1M-dataset registry) and nearly all it
// allocates is per-request garbage: at the default 100 it collected every few
// hundred requests, and the collections with the stack copies they cause were
// a tenth of its CPU at 4,500 finds/s. At 400 the heap still stays flat, a
// few times the live size.
const serverGCPercent = 400

// serverGC sets the collector for a long-running server, unless the user
// chose GOGC or GOMEMLIMIT.
func serverGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(serverGCPercent)
	debug.SetMemoryLimit(math.MaxInt64)
}
