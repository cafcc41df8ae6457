// Package dimensions holds the dimension universe — the elements (instrument,
// detector, exposure, ...) that data IDs are made of — read from embedded YAML
// definitions, one file per universe version, exactly as daf_butler defines them.
// It describes tables; it never queries them.
package dimensions

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gobutler/butler/errs"
	"go.yaml.in/yaml/v3"
)

//go:embed universes/*.yaml
var universeFiles embed.FS

// DefaultVersion is the universe version new repositories get.
const DefaultVersion = 8

// Field is one column of an element's record.
type Field struct {
	Name     string `json:"name" yaml:"name"`
	Type     string `json:"type" yaml:"type"` // int, string, float, bool, hash, datetime, region, uuid, blob
	Length   int    `json:"length,omitempty" yaml:"length,omitempty"`
	NBytes   int    `json:"nbytes,omitempty" yaml:"nbytes,omitempty"`
	Nullable *bool  `json:"nullable,omitempty" yaml:"nullable,omitempty"`
}

// IsNullable reports whether a metadata field may be NULL (the default).
func (f Field) IsNullable() bool { return f.Nullable == nil || *f.Nullable }

// Element is a dimension (it has keys) or a dimension combination such as
// visit_definition (no keys, only requires).
type Element struct {
	Name string
	// Keys[0] is the primary key; the rest are alternate unique keys. Empty for combinations.
	Keys []Field
	// Required holds every dimension this element requires, transitively, in universe
	// order, not including itself.
	Required []*Element
	// Implied holds the dimensions this element directly implies, in universe order.
	Implied  []*Element
	Metadata []Field
	Governor bool
	// AlwaysJoin elements (visit_definition) are joined whenever their dimensions are.
	AlwaysJoin  bool
	PopulatedBy string
	Cached      bool
	// ViewOf names the element whose records define this one's values (band: physical_filter).
	ViewOf string
	// Spatial and Temporal are topology family names ("" when the element has none).
	Spatial, Temporal string
	// SkyPix elements (htm7, healpix10) are computed, never stored.
	SkyPixSystem string
	SkyPixLevel  int

	index      int
	universe   *Universe
	directReqs []string
	directImps []string
}

// IsDimension reports whether the element has a primary key of its own.
func (e *Element) IsDimension() bool { return len(e.Keys) > 0 }

// HasTable reports whether the element's records live in a table of its own.
func (e *Element) HasTable() bool { return e.SkyPixSystem == "" && e.ViewOf == "" }

// PrimaryKey is the element's primary key field (Keys[0]).
func (e *Element) PrimaryKey() Field { return e.Keys[0] }

// Index is the element's position in universe order.
func (e *Element) Index() int { return e.index }

// Dimensions returns the element's required dimensions followed by itself when it
// is a dimension: the columns that identify one of its records.
func (e *Element) Dimensions() []*Element {
	out := append([]*Element(nil), e.Required...)
	if e.IsDimension() {
		out = append(out, e)
	}
	return out
}

// GovernorOf returns the governor dimension among the element's required dimensions
// (or the element itself), or nil.
func (e *Element) GovernorOf() *Element {
	if e.Governor {
		return e
	}
	for _, r := range e.Required {
		if r.Governor {
			return r
		}
	}
	return nil
}

func (e *Element) String() string { return e.Name }

// Universe is one version of the dimension definitions.
type Universe struct {
	Version   int
	Namespace string
	// Elements in universe order (see reference §4.4), skypix dimensions included.
	Elements []*Element
	// CommonSkyPix is the skypix dimension used to relate spatial elements (htm7).
	CommonSkyPix *Element
	byName       map[string]*Element
	raw          map[string]any
}

// Element returns the named element.
func (u *Universe) Element(name string) (*Element, bool) {
	e, ok := u.byName[name]
	return e, ok
}

// MustElement returns the named element or panics; for names the code itself spells.
func (u *Universe) MustElement(name string) *Element {
	e, ok := u.byName[name]
	if !ok {
		panic(fmt.Sprintf("dimension universe %d has no element %q", u.Version, name))
	}
	return e
}

// Governors returns the governor dimensions in universe order.
func (u *Universe) Governors() []*Element {
	var out []*Element
	for _, e := range u.Elements {
		if e.Governor {
			out = append(out, e)
		}
	}
	return out
}

// JSON renders the configuration the universe was built from, the value stored in
// butler_attributes as config:dimensions.json.
func (u *Universe) JSON() ([]byte, error) { return json.Marshal(u.raw) }

// Default returns the newest embedded universe.
func Default() *Universe {
	u, err := Version(DefaultVersion)
	if err != nil {
		panic(err) // embedded data is checked by tests
	}
	return u
}

// Version returns an embedded universe of namespace daf_butler. Each version
// is built once per process (a universe is never changed once built, so it is
// shared).
func Version(v int) (*Universe, error) {
	if v < 0 || v >= len(embeddedUniverses) {
		return nil, fmt.Errorf("dimension universe version %d: %w: no such embedded version (have 0..%d)", v, errs.ErrNotFound, DefaultVersion)
	}
	return embeddedUniverses[v]()
}

// embeddedUniverses builds each embedded universe on first use.
var embeddedUniverses = func() (out [DefaultVersion + 1]func() (*Universe, error)) {
	for v := range out {
		out[v] = sync.OnceValues(func() (*Universe, error) {
			data, err := universeFiles.ReadFile(fmt.Sprintf("universes/daf_butler_universe%d.yaml", v))
			if err != nil {
				return nil, fmt.Errorf("dimension universe version %d: %w: no such embedded version (have 0..%d)", v, errs.ErrNotFound, DefaultVersion)
			}
			return Load(data)
		})
	}
	return out
}()

// Load builds a universe from a dimensions configuration in YAML or JSON.
func Load(data []byte) (*Universe, error) {
	if trimmed := strings.TrimSpace(string(data)); strings.HasPrefix(trimmed, "{") {
		if u, err := loadJSON(data); err == nil {
			return u, nil
		}
	}
	// One parse: the document node gives both the raw configuration (kept for
	// JSON) and the typed one (a round trip through YAML text to get the
	// second was most of the cost of a new repository's universe).
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse dimension configuration: %w: %w", errs.ErrInvalid, err)
	}
	var raw map[string]any
	if err := doc.Decode(&raw); err != nil {
		return nil, fmt.Errorf("parse dimension configuration: %w: %w", errs.ErrInvalid, err)
	}
	return build(&doc, raw)
}

type elementConfig struct {
	Keys        []Field  `yaml:"keys" json:"keys"`
	Requires    []string `yaml:"requires" json:"requires"`
	Implies     []string `yaml:"implies" json:"implies"`
	Metadata    []Field  `yaml:"metadata" json:"metadata"`
	Governor    bool     `yaml:"governor" json:"governor"`
	AlwaysJoin  bool     `yaml:"always_join" json:"always_join"`
	PopulatedBy string   `yaml:"populated_by" json:"populated_by"`
	IsCached    bool     `yaml:"is_cached" json:"is_cached"`
	UnionTarget string   `yaml:"implied_union_target" json:"implied_union_target"`
	Storage     struct {
		Cls    string `yaml:"cls" json:"cls"`
		Nested struct {
			Cls    string `yaml:"cls" json:"cls"`
			ViewOf string `yaml:"view_of" json:"view_of"`
		} `yaml:"nested" json:"nested"`
	} `yaml:"storage" json:"storage"`
}

// jsonConfig is the JSON form (butler_attributes' config:dimensions.json),
// decoded with encoding/json: several times faster than YAML, and every open of
// a repository reads it. Element order does not matter: universe order sorts.
type jsonConfig struct {
	Version   int                            `json:"version"`
	Namespace string                         `json:"namespace"`
	SkyPix    map[string]json.RawMessage     `json:"skypix"`
	Elements  map[string]elementConfig       `json:"elements"`
	Topology  map[string]map[string][]string `json:"topology"`
}

type universeConfig struct {
	Version   int                            `yaml:"version"`
	Namespace string                         `yaml:"namespace"`
	SkyPix    map[string]any                 `yaml:"skypix"`
	Elements  yaml.Node                      `yaml:"elements"`
	Topology  map[string]map[string][]string `yaml:"topology"`
}

func loadJSON(data []byte) (*Universe, error) {
	var cfg jsonConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cfg.Elements))
	for n := range cfg.Elements {
		names = append(names, n)
	}
	sort.Strings(names)
	els := make([]namedElement, len(names))
	for i, n := range names {
		els[i] = namedElement{n, cfg.Elements[n]}
	}
	skypix := map[string]any{}
	for k, v := range cfg.SkyPix {
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, err
		}
		if m, ok := x.(map[string]any); ok {
			for mk, mv := range m {
				if f, ok := mv.(float64); ok {
					m[mk] = int(f)
				}
			}
		}
		skypix[k] = x
	}
	return construct(cfg.Version, cfg.Namespace, skypix, els, cfg.Topology, raw)
}

type namedElement struct {
	name string
	cfg  elementConfig
}

// build decodes the typed configuration from doc, the parsed document raw was
// decoded from.
func build(doc *yaml.Node, raw map[string]any) (*Universe, error) {
	var cfg universeConfig
	if err := doc.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("dimension configuration: %w: %w", errs.ErrInvalid, err)
	}
	if cfg.Elements.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("dimension configuration: %w: no elements mapping", errs.ErrInvalid)
	}
	var els []namedElement
	for i := 0; i+1 < len(cfg.Elements.Content); i += 2 {
		name := cfg.Elements.Content[i].Value
		var ec elementConfig
		if err := cfg.Elements.Content[i+1].Decode(&ec); err != nil {
			return nil, fmt.Errorf("dimension element %q: %w: %w", name, errs.ErrInvalid, err)
		}
		els = append(els, namedElement{name, ec})
	}
	// Element order does not matter (universe order sorts), but keep the
	// name order every other path gives construct.
	sort.Slice(els, func(i, j int) bool { return els[i].name < els[j].name })
	return construct(cfg.Version, cfg.Namespace, cfg.SkyPix, els, cfg.Topology, raw)
}

// construct builds the universe from decoded element definitions.
func construct(version int, namespace string, skyPix map[string]any, els []namedElement, topology map[string]map[string][]string, raw map[string]any) (*Universe, error) {
	if namespace == "" {
		namespace = "daf_butler"
	}
	u := &Universe{Version: version, Namespace: namespace, byName: map[string]*Element{}, raw: raw}
	var pending []*Element
	for _, ne := range els {
		name, ec := ne.name, ne.cfg
		e := &Element{
			Name: name, Keys: ec.Keys, Metadata: ec.Metadata, Governor: ec.Governor,
			AlwaysJoin: ec.AlwaysJoin, PopulatedBy: ec.PopulatedBy,
			Cached:     ec.IsCached || ec.Governor || strings.HasSuffix(ec.Storage.Cls, "CachingDimensionRecordStorage"),
			ViewOf:     ec.UnionTarget,
			directReqs: ec.Requires, directImps: ec.Implies,
		}
		if e.ViewOf == "" {
			e.ViewOf = ec.Storage.Nested.ViewOf
		}
		if len(e.Keys) == 0 && len(e.directReqs) == 0 {
			return nil, fmt.Errorf("dimension element %q: %w: has neither keys nor requires", name, errs.ErrInvalid)
		}
		pending = append(pending, e)
	}
	// Skypix dimensions: one per level of each system.
	common, _ := skyPix["common"].(string)
	for sys, v := range skyPix {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		maxLevel, _ := m["max_level"].(int)
		minLevel := 1
		if ml, ok := m["min_level"].(int); ok {
			minLevel = ml
		}
		for lvl := minLevel; lvl <= maxLevel; lvl++ {
			pending = append(pending, &Element{
				Name: fmt.Sprintf("%s%d", sys, lvl), Keys: []Field{{Name: "id", Type: "int"}},
				SkyPixSystem: sys, SkyPixLevel: lvl, Spatial: "skypix",
			})
		}
	}
	// Universe order: repeatedly take every element whose requires and implies are all
	// placed, sort that batch by name, append it.
	placed := map[string]bool{}
	for len(pending) > 0 {
		var batch, rest []*Element
		for _, e := range pending {
			ready := true
			for _, d := range append(append([]string(nil), e.directReqs...), e.directImps...) {
				if !placed[d] {
					ready = false
				}
			}
			if ready {
				batch = append(batch, e)
			} else {
				rest = append(rest, e)
			}
		}
		if len(batch) == 0 {
			var names []string
			for _, e := range rest {
				names = append(names, e.Name)
			}
			return nil, fmt.Errorf("dimension configuration: %w: unknown or cyclic dependencies among %s", errs.ErrInvalid, strings.Join(names, ", "))
		}
		sort.Slice(batch, func(i, j int) bool { return batch[i].Name < batch[j].Name })
		for _, e := range batch {
			placed[e.Name] = true
			e.index = len(u.Elements)
			u.Elements = append(u.Elements, e)
			u.byName[e.Name] = e
			e.universe = u
		}
		pending = rest
	}
	for _, e := range u.Elements {
		seen := map[*Element]bool{}
		var walk func(names []string)
		walk = func(names []string) {
			for _, n := range names {
				d := u.byName[n]
				if !seen[d] {
					seen[d] = true
					walk(d.directReqs)
				}
			}
		}
		walk(e.directReqs)
		for d := range seen {
			e.Required = append(e.Required, d)
		}
		sortElements(e.Required)
		for _, n := range e.directImps {
			e.Implied = append(e.Implied, u.byName[n])
		}
		sortElements(e.Implied)
	}
	for kind, fams := range topology {
		for fam, members := range fams {
			for _, m := range members {
				e, ok := u.byName[m]
				if !ok {
					return nil, fmt.Errorf("dimension topology %s.%s: %w: unknown element %q", kind, fam, errs.ErrInvalid, m)
				}
				if kind == "spatial" {
					e.Spatial = fam
				} else {
					e.Temporal = fam
				}
			}
		}
	}
	if common != "" {
		u.CommonSkyPix = u.byName[common]
	}
	return u, nil
}

func sortElements(es []*Element) {
	sort.Slice(es, func(i, j int) bool { return es[i].index < es[j].index })
}
