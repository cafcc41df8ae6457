// Package errs holds the error kinds that callers branch on with errors.Is.
//
// Classify an error once, at the boundary where its cause is known, and keep the
// original as a second %w:
//
//	fmt.Errorf("get %q: %w: %w", key, errs.ErrNotFound, err)
package errs

import "errors"

var (
	// ErrNotFound: a file, record, collection, dataset type or dataset does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: it exists already, a unique key is violated, or a definition differs.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the caller's input is malformed (bad data ID, name, YAML, header...).
	ErrInvalid = errors.New("invalid")
	// ErrPermission: refused by the file system, the database or the object store,
	// or a credentials file readable by others.
	ErrPermission = errors.New("permission denied")
	// ErrUnsupported: a valid request this implementation or backend cannot do.
	ErrUnsupported = errors.New("unsupported")
	// ErrBusy: a lock could not be taken in time.
	ErrBusy = errors.New("busy")
	// ErrReadOnly: a write was attempted on a repository opened (or granted) read-only.
	ErrReadOnly = errors.New("read-only")
)
