package dataset

import (
	"fmt"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
)

// The error types below are what callers of the butler API branch on with
// errors.As when the kind (errors.Is with an errs value) is not enough. They
// live here, with the values they describe, so that no caller needs to import
// the registry to inspect them.

// ConflictError says a dataset with the same type and data ID (or ID) is already there.
type ConflictError struct {
	Type, Collection string
	DataID           dimensions.DataID
	Err              error
}

func (e *ConflictError) Error() string {
	if e.DataID == nil {
		return fmt.Sprintf("%s dataset(s) in %q: already there (a dataset with the same type and data ID, or the same ID, exists)", e.Type, e.Collection)
	}
	return fmt.Sprintf("dataset %s %s in %q: already there (a dataset with the same type and data ID, or the same ID, exists)", e.Type, e.DataID, e.Collection)
}
func (e *ConflictError) Is(target error) bool { return target == errs.ErrConflict }
func (e *ConflictError) Unwrap() error        { return e.Err }

// MissingTypeError says a dataset type is not registered.
type MissingTypeError struct{ Name string }

func (e *MissingTypeError) Error() string {
	return fmt.Sprintf("dataset type %q: not registered", e.Name)
}
func (e *MissingTypeError) Is(target error) bool { return target == errs.ErrNotFound }

// CalibrationLookupError says a calibration lookup matched more than one dataset.
type CalibrationLookupError struct {
	Type, Collection string
	DataID           dimensions.DataID
	N                int
}

func (e *CalibrationLookupError) Error() string {
	return fmt.Sprintf("ambiguous calibration lookup: %d %s datasets for %s in %q have validity ranges overlapping the time asked for", e.N, e.Type, e.DataID, e.Collection)
}
func (e *CalibrationLookupError) Is(target error) bool { return target == errs.ErrConflict }

// MissingCollectionError says a collection does not exist.
type MissingCollectionError struct{ Name string }

func (e *MissingCollectionError) Error() string {
	return fmt.Sprintf("collection %q: not found", e.Name)
}
func (e *MissingCollectionError) Is(target error) bool { return target == errs.ErrNotFound }

// CollectionCycleError says a chain would contain itself.
type CollectionCycleError struct{ Parent, Child string }

func (e *CollectionCycleError) Error() string {
	return fmt.Sprintf("collection chain %q: adding %q would make a cycle", e.Parent, e.Child)
}
func (e *CollectionCycleError) Is(target error) bool { return target == errs.ErrInvalid }
