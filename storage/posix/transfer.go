package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/storage"
)

// copyChunk bounds each copy_file_range batch, so that a cancelled copy stops soon.
const copyChunk = 64 << 20

// Link puts the local file src into the store as key without copying its bytes. Like
// lsst.resources, it resolves symbolic links in src first, so the new link points at the real
// file. If key already is that very file, Link does nothing.
func (b *Backend) Link(ctx context.Context, src, key string, mode storage.LinkMode) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("%s %q to %q: %w", mode, src, key, err)
	}
	real, err := b.localSource(src)
	if err != nil {
		return b.fail(fmt.Sprintf("%s %q to", mode, src), key, err, false)
	}
	p := b.path(key)
	if same(real, p) {
		return nil // a rename over another link to the same inode would keep both names
	}
	link := func(target string, hard bool) error {
		return b.placeEntry(p, func(tmp string) error {
			if hard {
				return os.Link(target, tmp)
			}
			return os.Symlink(target, tmp)
		})
	}
	switch mode {
	case storage.Hardlink:
		err = link(real, true)
	case storage.Symlink:
		err = link(real, false)
	case storage.RelSymlink:
		rel, rerr := filepath.Rel(filepath.Dir(p), real)
		if rerr != nil {
			return fmt.Errorf("relsymlink %q to %q: %w", src, key, rerr)
		}
		err = link(rel, false)
	case storage.Link:
		if herr := link(real, true); herr != nil {
			// Any failure (another device, no hard links on this file system, a link count
			// limit) falls back to a symbolic link, as the Python butler's "link" does.
			if err = link(real, false); err != nil {
				err = fmt.Errorf("%w (hard link: %v)", err, herr)
			}
		}
	default:
		return fmt.Errorf("link %q to %q: %w: unknown mode %d", src, key, errs.ErrInvalid, int(mode))
	}
	if err != nil {
		return b.fail(fmt.Sprintf("%s %q to", mode, src), key, err, true)
	}
	return nil
}

// CopyFrom copies src into a temporary file with copy_file_range (through os.File.ReadFrom)
// in bounded chunks, then renames it into place.
func (b *Backend) CopyFrom(ctx context.Context, src, key string) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("copy %q to %q: %w", src, key, err)
	}
	if !filepath.IsAbs(src) {
		return fmt.Errorf("copy %q to %q: %w: source is not an absolute path", src, key, errs.ErrInvalid)
	}
	in, err := os.Open(src)
	if err != nil {
		return b.fail(fmt.Sprintf("copy %q to", src), key, err, false)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return b.fail(fmt.Sprintf("copy %q to", src), key, err, false)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("copy %q to %q: %w: source is not a regular file", src, key, errs.ErrInvalid)
	}
	err = b.place(ctx, b.path(key), func(out *os.File) error {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := io.CopyN(out, in, copyChunk)
			if errors.Is(err, io.EOF) || (err == nil && n < copyChunk) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	if err != nil {
		return b.fail(fmt.Sprintf("copy %q to", src), key, err, true)
	}
	return nil
}

// MoveFrom renames src to key; across devices it copies and then removes src. A symbolic link
// src is moved as the link itself.
func (b *Backend) MoveFrom(ctx context.Context, src, key string) error {
	if err := b.checkKey(ctx, key); err != nil {
		return fmt.Errorf("move %q to %q: %w", src, key, err)
	}
	if !filepath.IsAbs(src) {
		return fmt.Errorf("move %q to %q: %w: source is not an absolute path", src, key, errs.ErrInvalid)
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return b.fail(fmt.Sprintf("move %q to", src), key, err, false)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("move %q to %q: %w: source is not a file", src, key, errs.ErrInvalid)
	}
	p := b.path(key)
	err = b.retryDir(p, func() error { return os.Rename(src, p) })
	if errors.Is(err, syscall.EXDEV) {
		if err := b.CopyFrom(ctx, src, key); err != nil {
			return err
		}
		if err := os.Remove(src); err != nil {
			return fmt.Errorf("move %q to %q: remove source after copy: %w", src, key, err)
		}
		return nil
	}
	if err == nil {
		err = b.syncDir(filepath.Dir(p))
	}
	if err != nil {
		return b.fail(fmt.Sprintf("move %q to", src), key, err, true)
	}
	return nil
}

// placeEntry makes a directory entry at path atomically: make creates it under a temporary
// name, which is then renamed to path.
func (b *Backend) placeEntry(path string, make func(tmp string) error) error {
	var tmp string
	err := b.retryDir(path, func() error {
		tmp = tempName(path)
		return make(tmp)
	})
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return b.syncDir(filepath.Dir(path))
}

// localSource checks that src is an absolute path to a regular file and returns it with
// symbolic links resolved.
func (b *Backend) localSource(src string) (string, error) {
	if !filepath.IsAbs(src) {
		return "", fmt.Errorf("%w: source is not an absolute path", errs.ErrInvalid)
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: source is not a regular file", errs.ErrInvalid)
	}
	return real, nil
}

// same reports whether the file a and the directory entry b (not followed if it is a symbolic
// link) both exist and are the same file.
func same(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}
