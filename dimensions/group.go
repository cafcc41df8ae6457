package dimensions

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gobutler/butler/errs"
)

// Group is a set of dimensions closed under requires and implies (daf_butler's
// DimensionGroup). Required dimensions identify a data ID; implied ones follow from them.
type Group struct {
	Required []*Element // universe order
	Implied  []*Element // universe order
}

// Group builds the group spanned by the named dimensions (or dimension elements,
// whose dimensions are used).
func (u *Universe) Group(names ...string) (Group, error) {
	all := map[*Element]bool{}
	var add func(e *Element)
	add = func(e *Element) {
		if all[e] {
			return
		}
		all[e] = true
		for _, r := range e.Required {
			add(r)
		}
		for _, i := range e.Implied {
			add(i)
		}
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		e, ok := u.byName[n]
		if !ok {
			return Group{}, fmt.Errorf("dimension %q: %w: not in universe %d (known: %s)", n, errs.ErrNotFound, u.Version, strings.Join(u.DimensionNames(), ", "))
		}
		if e.IsDimension() {
			add(e)
		} else {
			for _, r := range e.Required {
				add(r)
			}
		}
	}
	implied := map[*Element]bool{}
	for e := range all {
		for _, i := range e.Implied {
			implied[i] = true
		}
	}
	var g Group
	for e := range all {
		if !e.IsDimension() {
			continue
		}
		if implied[e] {
			g.Implied = append(g.Implied, e)
		} else {
			g.Required = append(g.Required, e)
		}
	}
	sortElements(g.Required)
	sortElements(g.Implied)
	return g, nil
}

// DimensionNames lists the names of all dimensions (not combinations), in universe order,
// skypix levels other than the common one left out for brevity.
func (u *Universe) DimensionNames() []string {
	var out []string
	for _, e := range u.Elements {
		if e.IsDimension() && (e.SkyPixSystem == "" || e == u.CommonSkyPix) {
			out = append(out, e.Name)
		}
	}
	return out
}

// Names returns the required then implied dimension names.
func (g Group) Names() []string {
	out := g.RequiredNames()
	for _, e := range g.Implied {
		out = append(out, e.Name)
	}
	return out
}

// RequiredNames returns the required dimension names in universe order.
func (g Group) RequiredNames() []string {
	out := make([]string, len(g.Required))
	for i, e := range g.Required {
		out[i] = e.Name
	}
	return out
}

// Has reports whether the group holds the named dimension.
func (g Group) Has(name string) bool {
	for _, e := range g.Required {
		if e.Name == name {
			return true
		}
	}
	for _, e := range g.Implied {
		if e.Name == name {
			return true
		}
	}
	return false
}

// Key is the "a+b+c" form daf_butler uses in lookup keys (required dimensions,
// universe order... callers that need the full set use Names).
func (g Group) Key() string { return strings.Join(g.Names(), "+") }

// String prints the group as {a, b, c}.
func (g Group) String() string { return "{" + strings.Join(g.Names(), ", ") + "}" }

// Equal reports whether two groups hold the same dimensions.
func (g Group) Equal(o Group) bool {
	a, b := g.Names(), o.Names()
	if len(a) != len(b) {
		return false
	}
	sort.Strings(a)
	sort.Strings(b)
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Governors returns the governor dimensions of the group.
func (g Group) Governors() []*Element {
	var out []*Element
	for _, e := range g.Required {
		if e.Governor {
			out = append(out, e)
		}
	}
	return out
}
