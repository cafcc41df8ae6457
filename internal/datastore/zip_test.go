package datastore

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage/posix"
)

func TestSplitZipMember(t *testing.T) {
	tests := []struct {
		in, zip, member string
		ok              bool
	}{
		{"zips/ab12/ab12.zip#zip-path=a/b.json", "zips/ab12/ab12.zip", "a/b.json", true},
		{"file:///data/x.zip#zip-path=m.fits", "file:///data/x.zip", "m.fits", true},
		{"run/dict/dict_1.yaml", "run/dict/dict_1.yaml", "", false},
		{"run/odd#name.yaml", "run/odd#name.yaml", "", false},
	}
	for _, tt := range tests {
		z, m, ok := SplitZipMember(tt.in)
		if z != tt.zip || m != tt.member || ok != tt.ok {
			t.Errorf("SplitZipMember(%q) = %q, %q, %v; want %q, %q, %v", tt.in, z, m, ok, tt.zip, tt.member, tt.ok)
		}
		if ok && ZipMemberPath(z, m) != tt.in {
			t.Errorf("ZipMemberPath(%q, %q) = %q, want %q", z, m, ZipMemberPath(z, m), tt.in)
		}
	}
}

// zipStore makes a datastore over a temporary directory holding zips/t.zip with
// a stored member, a deflated member and one in a subdirectory.
func zipStore(t *testing.T) (*Datastore, string, map[string]string) {
	t.Helper()
	root := t.TempDir()
	content := map[string]string{
		"stored.json":      `{"a": 1}`,
		"deflated.yaml":    strings.Repeat("key: value\n", 500),
		"sub/dir/raw.fits": strings.Repeat("\x00\x01\x02", 1000),
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"stored.json", "deflated.yaml", "sub/dir/raw.fits"} {
		m := zip.Store
		if name == "deflated.yaml" {
			m = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zipFile := filepath.Join(root, "zips", "t.zip")
	os.MkdirAll(filepath.Dir(zipFile), 0o755)
	if err := os.WriteFile(zipFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := posix.Open(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	d, err := New(Config{}, b)
	if err != nil {
		t.Fatal(err)
	}
	return d, zipFile, content
}

func TestOpenZipMember(t *testing.T) {
	d, zipFile, content := zipStore(t)
	ctx := t.Context()
	for _, base := range []string{"zips/t.zip", "file://" + zipFile} {
		for name, want := range content {
			rc, err := d.Open(ctx, ZipMemberPath(base, name))
			if err != nil {
				t.Fatalf("open %s in %s: %v", name, base, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read %s in %s: %v", name, base, err)
			}
			if string(got) != want {
				t.Errorf("%s in %s: got %d bytes, want %d", name, base, len(got), len(want))
			}
		}
		if _, err := d.Open(ctx, ZipMemberPath(base, "absent.json")); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("open a missing member of %s: %v, want ErrNotFound", base, err)
		}
	}
	if _, err := d.Open(ctx, ZipMemberPath("zips/none.zip", "stored.json")); !errors.Is(err, errs.ErrNotFound) {
		t.Errorf("open a member of a missing zip: %v, want ErrNotFound", err)
	}
}

func TestOpenZipMemberCorrupt(t *testing.T) {
	d, zipFile, content := zipStore(t)
	data, err := os.ReadFile(zipFile)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of the stored member's content: the CRC check must catch it.
	i := bytes.Index(data, []byte(content["stored.json"]))
	if i < 0 {
		t.Fatal("stored member not found in the zip bytes")
	}
	data[i+1] ^= 0xff
	if err := os.WriteFile(zipFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err := d.Open(t.Context(), ZipMemberPath("zips/t.zip", "stored.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("read a corrupted member: %v, want ErrInvalid", err)
	}
	// Something that is not a zip at all.
	os.WriteFile(zipFile, []byte("not a zip"), 0o644)
	if _, err := d.Open(t.Context(), ZipMemberPath("zips/t.zip", "stored.json")); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("open a member of a non-zip: %v, want ErrInvalid", err)
	}
}

func TestZipURIAndRemove(t *testing.T) {
	d, zipFile, _ := zipStore(t)
	ctx := t.Context()
	member := ZipMemberPath("zips/t.zip", "sub/dir/raw.fits")
	if got, want := d.URI(member), d.URI("zips/t.zip")+"#zip-path=sub/dir/raw.fits"; got != want {
		t.Errorf("URI(%q) = %q, want %q", member, got, want)
	}
	// A member path never deletes the zip: other records may read it.
	if err := d.Remove(ctx, []string{member}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(zipFile); err != nil {
		t.Fatalf("removing a member path deleted the zip: %v", err)
	}
	if err := d.Remove(ctx, []string{"zips/t.zip"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(zipFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("zip still there after removing its path: %v", err)
	}
}

// TestOpenZipMemberLarge reads members of a zip bigger than the tail read at
// once, so that local headers are read both inside and outside it.
func TestOpenZipMemberLarge(t *testing.T) {
	d, zipFile, _ := zipStore(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	content := map[string][]byte{"big.fits": big, "small.json": []byte(`{"b": 2}`), "big2.fits": big[:zipTail]}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"big.fits", "small.json", "big2.fits"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(content[name])
	}
	zw.Close()
	if err := os.WriteFile(zipFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, want := range content {
		rc, err := d.Open(t.Context(), ZipMemberPath("zips/t.zip", name))
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("read %s: %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
}
