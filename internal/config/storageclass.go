package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gobutler/butler/errs"
)

// StorageClassDef is one storage class definition with inheritance applied:
// a class with inheritsFrom starts from its base's pytype, components,
// derived components, parameters, delegate and converters, then applies its
// own entries (as daf_butler's StorageClassFactory does).
type StorageClassDef struct {
	Name, PyType, InheritsFrom, Delegate string
	// Components and DerivedComponents map component name → storage class name.
	Components, DerivedComponents map[string]string
	// Parameters are the read parameters accepted, sorted.
	Parameters []string
	// Converters maps a python type name → the function converting it to PyType.
	Converters map[string]string
}

// StorageClasses returns the repository's storage class definitions by name.
func (r *Repo) StorageClasses() (map[string]StorageClassDef, error) {
	if r == nil || r.Config == nil {
		return nil, fmt.Errorf("read storage classes: %w: no repository config", errs.ErrInvalid)
	}
	return StorageClasses(r.Config)
}

// StorageClasses reads the storageClasses section of cfg (or cfg itself when
// it has no such key). Every class named by inheritsFrom, components or
// derivedComponents must be defined.
func StorageClasses(cfg *Config) (map[string]StorageClassDef, error) {
	m := newMapping()
	if cfg != nil && cfg.m != nil {
		m = componentOf(cfg.m, "storageClasses")
	}
	raw := map[string]StorageClassDef{}
	for _, name := range m.keys {
		def, err := rawStorageClass(name, m.vals[name])
		if err != nil {
			return nil, fmt.Errorf("read storage class %q: %w", name, err)
		}
		raw[name] = def
	}
	out := make(map[string]StorageClassDef, len(raw))
	var resolve func(name string, chain []string) (StorageClassDef, error)
	resolve = func(name string, chain []string) (StorageClassDef, error) {
		if d, ok := out[name]; ok {
			return d, nil
		}
		if slices.Contains(chain, name) {
			return StorageClassDef{}, fmt.Errorf("%w: inheritsFrom cycle %s -> %s", errs.ErrInvalid, strings.Join(chain, " -> "), name)
		}
		d, ok := raw[name]
		if !ok {
			return StorageClassDef{}, fmt.Errorf("%w: storage class %q is not defined", errs.ErrInvalid, name)
		}
		res := StorageClassDef{Name: name, InheritsFrom: d.InheritsFrom, Components: map[string]string{},
			DerivedComponents: map[string]string{}, Converters: map[string]string{}}
		params := map[string]bool{}
		if d.InheritsFrom != "" {
			base, err := resolve(d.InheritsFrom, append(chain, name))
			if err != nil {
				return StorageClassDef{}, err
			}
			res.PyType, res.Delegate = base.PyType, base.Delegate
			maps.Copy(res.Components, base.Components)
			maps.Copy(res.DerivedComponents, base.DerivedComponents)
			maps.Copy(res.Converters, base.Converters)
			for _, p := range base.Parameters {
				params[p] = true
			}
		}
		if d.PyType != "" {
			res.PyType = d.PyType
		}
		if d.Delegate != "" {
			res.Delegate = d.Delegate
		}
		maps.Copy(res.Components, d.Components)
		maps.Copy(res.DerivedComponents, d.DerivedComponents)
		maps.Copy(res.Converters, d.Converters)
		for _, p := range d.Parameters {
			params[p] = true
		}
		res.Parameters = slices.Sorted(maps.Keys(params))
		for _, comps := range []map[string]string{res.Components, res.DerivedComponents} {
			for c, sc := range comps {
				if _, ok := raw[sc]; !ok {
					return StorageClassDef{}, fmt.Errorf("%w: storage class %q component %q uses undefined storage class %q", errs.ErrInvalid, name, c, sc)
				}
			}
		}
		out[name] = res
		return res, nil
	}
	for _, name := range m.keys {
		if _, err := resolve(name, nil); err != nil {
			return nil, fmt.Errorf("read storage classes: %w", err)
		}
	}
	return out, nil
}

func rawStorageClass(name string, v any) (StorageClassDef, error) {
	d := StorageClassDef{Name: name}
	m, ok := v.(*mapping)
	if !ok {
		if v == nil {
			return d, nil
		}
		return d, fmt.Errorf("%w: definition is a %s, not a mapping", errs.ErrInvalid, kindOf(v))
	}
	strs := []struct {
		key string
		dst *string
	}{{"pytype", &d.PyType}, {"inheritsFrom", &d.InheritsFrom}, {"delegate", &d.Delegate}}
	for _, s := range strs {
		if x, ok := m.vals[s.key]; ok && x != nil {
			str, ok := x.(string)
			if !ok {
				return d, fmt.Errorf("%w: %s is a %s, not a string", errs.ErrInvalid, s.key, kindOf(x))
			}
			*s.dst = str
		}
	}
	mapFields := []struct {
		key string
		dst *map[string]string
	}{{"components", &d.Components}, {"derivedComponents", &d.DerivedComponents}, {"converters", &d.Converters}}
	for _, s := range mapFields {
		*s.dst = map[string]string{}
		x, ok := m.vals[s.key]
		if !ok || x == nil {
			continue
		}
		sm, ok := x.(*mapping)
		if !ok {
			return d, fmt.Errorf("%w: %s is a %s, not a mapping", errs.ErrInvalid, s.key, kindOf(x))
		}
		for _, k := range sm.keys {
			str, ok := sm.vals[k].(string)
			if !ok {
				return d, fmt.Errorf("%w: %s.%s is a %s, not a name", errs.ErrInvalid, s.key, k, kindOf(sm.vals[k]))
			}
			(*s.dst)[k] = str
		}
	}
	if x, ok := m.vals["parameters"]; ok && x != nil {
		list, ok := x.([]any)
		if !ok {
			return d, fmt.Errorf("%w: parameters is a %s, not a list", errs.ErrInvalid, kindOf(x))
		}
		for _, p := range list {
			s, ok := p.(string)
			if !ok {
				return d, fmt.Errorf("%w: parameter %v is not a name", errs.ErrInvalid, p)
			}
			d.Parameters = append(d.Parameters, s)
		}
	}
	return d, nil
}
