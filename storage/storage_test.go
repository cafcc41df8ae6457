package storage_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key   string
		valid bool
	}{
		{"a", true},
		{"raw/2019-03-19/x.fits", true},
		{"with space/ünïcödé/#?%+", true},
		{".hidden/..dots../x.", true},
		{"", false},
		{"/abs", false},
		{"..", false},
		{"a/../b", false},
		{"a/..", false},
		{"./a", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/", false},
		{"a\x00b", false},
		{"bad\xffutf8", false},
	}
	for _, tt := range tests {
		err := storage.CheckKey(tt.key)
		if tt.valid && err != nil {
			t.Errorf("CheckKey(%q) = %v, want nil", tt.key, err)
		}
		if !tt.valid && !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("CheckKey(%q) = %v, want errs.ErrInvalid", tt.key, err)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		valid  bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"a/b/", true},
		{"a/..", true}, // matches "a/..x"
		{"a/.", true},  // matches "a/.hidden"
		{"/a", false},
		{"a//", false},
		{"../a", false},
		{"a/./", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		err := storage.CheckPrefix(tt.prefix)
		if tt.valid && err != nil {
			t.Errorf("CheckPrefix(%q) = %v, want nil", tt.prefix, err)
		}
		if !tt.valid && !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("CheckPrefix(%q) = %v, want errs.ErrInvalid", tt.prefix, err)
		}
	}
}

func TestLinkMode(t *testing.T) {
	for _, m := range []storage.LinkMode{storage.Hardlink, storage.Symlink, storage.RelSymlink, storage.Link} {
		got, err := storage.ParseLinkMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseLinkMode(%q) = %v, %v, want %v", m.String(), got, err, m)
		}
	}
	if _, err := storage.ParseLinkMode("copy"); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("ParseLinkMode(copy) error = %v, want errs.ErrInvalid", err)
	}
	if s := storage.LinkMode(0).String(); s != "LinkMode(0)" {
		t.Errorf("LinkMode(0).String() = %q", s)
	}
}

// fakeBackend records the URL its opener was given; it is never used for I/O.
type fakeBackend struct {
	storage.Backend
	u *url.URL
}

func TestMux_Open(t *testing.T) {
	var m storage.Mux
	opener := func(_ context.Context, u *url.URL) (storage.Backend, error) { return fakeBackend{u: u}, nil }
	m.Register("file", opener)
	m.Register("S3", opener)

	tests := []struct {
		uri        string
		wantScheme string
		wantPath   string
		wantHost   string
		wantErr    error
	}{
		{"/data/repo", "file", "/data/repo", "", nil},
		{"relative/repo", "file", "relative/repo", "", nil},
		{"/odd/50%/a?b#c", "file", "/odd/50%/a?b#c", "", nil},
		{"C:/data", "file", "C:/data", "", nil},
		{"file:///data/repo", "file", "/data/repo", "", nil},
		{"file:///data/with%20space", "file", "/data/with space", "", nil},
		{"FILE:///data", "file", "/data", "", nil},
		{"s3://bucket/prefix", "s3", "/prefix", "bucket", nil},
		{"gs://bucket/x", "", "", "", errs.ErrUnsupported},
		{"", "", "", "", errs.ErrInvalid},
		{"s3://bad host/%zz", "", "", "", errs.ErrInvalid},
	}
	for _, tt := range tests {
		b, err := m.Open(t.Context(), tt.uri)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open(%q) error = %v, want %v", tt.uri, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.uri, err)
			continue
		}
		u := b.(fakeBackend).u
		if u.Scheme != tt.wantScheme || u.Path != tt.wantPath || u.Host != tt.wantHost {
			t.Errorf("Open(%q) gave URL scheme %q host %q path %q, want %q %q %q",
				tt.uri, u.Scheme, u.Host, u.Path, tt.wantScheme, tt.wantHost, tt.wantPath)
		}
	}
	got := m.Schemes()
	slices.Sort(got)
	if !slices.Equal(got, []string{"file", "s3"}) {
		t.Errorf("Schemes() = %v", got)
	}
}

func TestMux_RegisterDuplicatePanics(t *testing.T) {
	var m storage.Mux
	opener := func(context.Context, *url.URL) (storage.Backend, error) { return nil, nil }
	m.Register("file", opener)
	defer func() {
		if recover() == nil {
			t.Error("second Register(\"File\") did not panic")
		}
	}()
	m.Register("File", opener)
}
