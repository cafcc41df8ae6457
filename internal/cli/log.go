package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Upstream level names; VERBOSE sits between INFO and DEBUG, TRACE below DEBUG.
var levels = map[string]slog.Level{
	"CRITICAL": slog.LevelError + 4, "ERROR": slog.LevelError, "WARNING": slog.LevelWarn, "WARN": slog.LevelWarn,
	"INFO": slog.LevelInfo, "VERBOSE": slog.LevelInfo - 2, "DEBUG": slog.LevelDebug, "TRACE": slog.LevelDebug - 4,
}

// componentHandler applies per-component levels ("component" attribute on the logger).
type componentHandler struct {
	inner     slog.Handler
	def       slog.Level
	perComp   map[string]slog.Level
	component string
}

func (h *componentHandler) level() slog.Level {
	for c := h.component; c != ""; {
		if l, ok := h.perComp[c]; ok {
			return l
		}
		i := strings.LastIndexByte(c, '.')
		if i < 0 {
			break
		}
		c = c[:i]
	}
	return h.def
}

func (h *componentHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level() }
func (h *componentHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.inner.Handle(ctx, r)
}
func (h *componentHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	for _, a := range as {
		if a.Key == "component" {
			c.component = a.Value.String()
		}
	}
	c.inner = h.inner.WithAttrs(as)
	return &c
}
func (h *componentHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.inner = h.inner.WithGroup(name)
	return &c
}

// multiHandler sends records to several handlers.
type multiHandler []slog.Handler

func (m multiHandler) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range m {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}
func (m multiHandler) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range m {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil {
				return err
			}
		}
	}
	return nil
}
func (m multiHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithAttrs(as)
	}
	return out
}
func (m multiHandler) WithGroup(n string) slog.Handler {
	out := make(multiHandler, len(m))
	for i, h := range m {
		out[i] = h.WithGroup(n)
	}
	return out
}

func (g *globals) setupLogging() error {
	def := slog.LevelWarn
	per := map[string]slog.Level{}
	for _, spec := range g.logLevels {
		comp, lvl, hasComp := strings.Cut(spec, "=")
		if !hasComp {
			lvl, comp = comp, ""
		}
		l, ok := levels[strings.ToUpper(strings.TrimSpace(lvl))]
		if !ok {
			return usagef("--log-level %q: unknown level (want CRITICAL, ERROR, WARNING, INFO, VERBOSE, DEBUG or TRACE)", spec)
		}
		if comp == "" || comp == "." {
			def = l
		} else {
			per[comp] = l
		}
	}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug - 8, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if !g.longLog && a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}
	if g.longLog {
		opts.AddSource = true
	}
	var handlers multiHandler
	if g.logTTY && !g.noLogTTY {
		handlers = append(handlers, slog.NewTextHandler(g.stderr, opts))
	}
	for _, f := range g.logFiles {
		fh, err := os.OpenFile(f, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("open log file %s: %w", f, err)
		}
		g.closers = append(g.closers, fh)
		var w io.Writer = fh
		if strings.HasSuffix(f, ".json") {
			handlers = append(handlers, slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug - 8, AddSource: true}))
		} else {
			handlers = append(handlers, slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug - 8, AddSource: g.longLog}))
		}
	}
	var labels []any
	for _, kv := range splitList(g.logLabels) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return usagef("--log-label %q: want KEY=VALUE", kv)
		}
		labels = append(labels, strings.ToUpper(strings.TrimSpace(k)), v)
	}
	g.log = slog.New(&componentHandler{inner: handlers, def: def, perComp: per})
	if len(labels) > 0 {
		g.log = g.log.With(slog.Group("MDC", labels...))
	}
	slog.SetDefault(g.log)
	return nil
}
