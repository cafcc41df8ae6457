package datastore

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gobutler/butler/errs"
)

// DefaultKey is the lookup key tried last.
const DefaultKey = "default"

// LookupKeys returns the keys under which templates, formatters, constraints and composites
// are looked up for a dataset, in daf_butler's priority order (DatasetRef._lookupNames):
// the dataset type name (with component), the parent name (components only), the dimension
// group, the storage class, the parent storage class (components only); each first with the
// "instrument<NAME>/" prefix when instrument is set, as internal/config flattens the
// "instrument<NAME>:" sub-sections; then "default". The first key present in the
// configuration wins.
//
// dimensions is the dataset type's required dimensions joined with "+" (empty: none). A
// single dimension is written with a trailing "+" ("instrument+"), as in the configuration,
// so that it cannot be mistaken for a dataset type or storage class name. Configuration keys
// spell groups freely ("physical_filter+detector+exposure" for raw's instrument, detector,
// exposure); CanonicalKeys rewrites them to this form.
func LookupKeys(instrument, datasetType, parentType, dimensions, storageClass, parentStorageClass string) []string {
	isComponent := parentType != "" && parentType != datasetType
	var names []string
	add := func(k string) {
		if k != "" && !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	add(datasetType)
	if isComponent {
		add(parentType)
	}
	add(dimensionKey(dimensions))
	add(storageClass)
	if isComponent {
		add(parentStorageClass)
	}
	keys := make([]string, 0, 2*len(names)+1)
	if instrument != "" {
		for _, n := range names {
			keys = append(keys, "instrument<"+instrument+">/"+n)
		}
	}
	keys = append(keys, names...)
	return append(keys, DefaultKey)
}

// dimensionKey writes a lone dimension with a trailing "+".
func dimensionKey(dims string) string {
	if dims == "" || strings.Contains(dims, "+") {
		return dims
	}
	return dims + "+"
}

// CanonicalKeys returns a copy of a lookup map (template, formatter…) whose dimension-group
// keys, those holding a "+" after any "instrument<NAME>/" prefix, are rewritten by canon so
// that LookupKeys finds them. canon gets the dimension names of a key and returns the group's
// required dimensions joined with "+" in universe order, as the caller passes them to
// LookupKeys; it errs on an unknown dimension. Two keys naming the same group (and the same
// instrument) are errs.ErrInvalid.
func CanonicalKeys[V any](m map[string]V, canon func(dims []string) (string, error)) (map[string]V, error) {
	out := make(map[string]V, len(m))
	from := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		prefix, name := "", k
		if strings.HasPrefix(k, "instrument<") {
			if i := strings.Index(k, ">/"); i >= 0 {
				prefix, name = k[:i+2], k[i+2:]
			}
		}
		nk := k
		if strings.Contains(name, "+") {
			var dims []string
			for d := range strings.SplitSeq(name, "+") {
				if d = strings.TrimSpace(d); d != "" {
					dims = append(dims, d)
				}
			}
			c, err := canon(dims)
			if err != nil {
				return nil, fmt.Errorf("lookup key %q: %w", k, err)
			}
			nk = prefix + dimensionKey(c)
		}
		if prev, dup := from[nk]; dup {
			return nil, fmt.Errorf("lookup keys %q and %q: %w: both name the dimensions %s", prev, k, errs.ErrInvalid, nk)
		}
		from[nk] = k
		out[nk] = m[k]
	}
	return out, nil
}
