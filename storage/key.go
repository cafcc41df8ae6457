package storage

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gobutler/butler/errs"
)

// CheckKey reports whether key is a valid object key: a '/'-separated relative path of
// non-empty components, none of them "." or "..", in valid UTF-8 without NUL. Every driver
// calls it before doing anything, so all of them accept and refuse the same keys. Keys are
// compared as bytes: no case folding and no Unicode normalization.
func CheckKey(key string) error {
	if err := checkKey(key, false); err != nil {
		return fmt.Errorf("key %q: %w: %s", key, errs.ErrInvalid, err)
	}
	return nil
}

// CheckPrefix reports whether prefix is valid for List: "" or the start of a valid key, so the
// last component may be partial or empty ("raw/", "raw/2019-").
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkKey(prefix, true); err != nil {
		return fmt.Errorf("prefix %q: %w: %s", prefix, errs.ErrInvalid, err)
	}
	return nil
}

// checkKey returns why key is not valid, as an error without a kind. With partial, the last
// component is only a string prefix and may be anything without NUL.
func checkKey(key string, partial bool) error {
	switch {
	case key == "":
		return errString("empty")
	case !utf8.ValidString(key):
		return errString("not valid UTF-8")
	case strings.IndexByte(key, 0) >= 0:
		return errString("contains NUL")
	case key[0] == '/':
		return errString("absolute")
	}
	rest := key
	for {
		comp, tail, more := strings.Cut(rest, "/")
		if !more && partial {
			return nil
		}
		switch comp {
		case "":
			return errString("empty path component")
		case ".", "..":
			return errString(`"." or ".." component`)
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

type errString string

func (e errString) Error() string { return string(e) }
