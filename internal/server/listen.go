package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace bounds how long in-flight requests may run on after a
// shutdown starts (SIGTERM): then the remaining connections are closed.
const ShutdownGrace = 30 * time.Second

// ListenOptions say where and how to listen.
type ListenOptions struct {
	Addr            string // host:port; port 0 picks a free one
	TLSCert, TLSKey string // both or neither
	// Ready, when set, is called with the address listened on, once the
	// server accepts connections.
	Ready func(addr string)
	// Grace overrides ShutdownGrace.
	Grace time.Duration
}

// ListenAndServe serves s until ctx is done, then shuts down gracefully: no
// new connections, in-flight requests (streams included) finish within the
// grace period, then what is left is closed. It returns nil after a clean
// shutdown.
func ListenAndServe(ctx context.Context, s *Server, opts ListenOptions) error {
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		return fmt.Errorf("TLS needs both a certificate and a key")
	}
	if opts.Grace == 0 {
		opts.Grace = ShutdownGrace
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Addr, err)
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if opts.TLSCert != "" {
			errc <- hs.ServeTLS(ln, opts.TLSCert, opts.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace_s", opts.Grace.Seconds())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.Grace)
	defer cancel()
	err = hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("grace period over; closing the remaining connections")
		hs.Close()
		err = nil
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
