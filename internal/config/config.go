// Package config reads, merges and writes butler configuration: repository
// butler.yaml files, seed configs, the packaged defaults, the repository index
// (aliases) and db-auth credentials. The rest of the system receives the typed
// views built here (Repo, RegistryConfig, DatastoreConfig), never raw YAML.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/errs"
)

// Config is a nested mapping with ordered keys, as read from YAML or JSON.
// It is not safe for concurrent modification.
//
// Values are nil, bool, int, int64, uint64, float64, string, []any or a nested
// mapping (returned by Get as a *Config that shares storage with its parent).
//
// Keys are addressed as in daf_butler: a key whose first character is not a
// letter or digit uses that character as the delimiter (".datastore.root",
// "/a/b.c/d"), and a backslash escapes the delimiter inside a name. A key that
// starts with a letter or digit names a top-level entry when one exists with
// exactly that name; otherwise it is split on "." ("datastore.root"). Integer
// path elements index into lists (".datastore.datastores.0.root").
type Config struct {
	m    *mapping
	file string
}

// New returns an empty Config.
func New() *Config { return &Config{m: newMapping()} }

// File is the file the config was loaded from, or "".
func (c *Config) File() string {
	if c == nil {
		return ""
	}
	return c.file
}

// Keys lists the top-level keys in order.
func (c *Config) Keys() []string {
	if c == nil || c.m == nil {
		return nil
	}
	return slices.Clone(c.m.keys)
}

// Len is the number of top-level keys.
func (c *Config) Len() int {
	if c == nil || c.m == nil {
		return 0
	}
	return len(c.m.keys)
}

// Get returns the value at key. Mappings come back as *Config views sharing
// storage with c; lists come back as fresh []any slices.
func (c *Config) Get(key string) (any, bool) {
	return c.GetPath(c.splitKey(key)...)
}

// GetPath is Get with the key already split into its parts.
func (c *Config) GetPath(path ...string) (any, bool) {
	v, ok := c.lookup(path)
	if !ok {
		return nil, false
	}
	return c.export(v), true
}

// Has reports whether key is present (its value may be null).
func (c *Config) Has(key string) bool {
	_, ok := c.lookup(c.splitKey(key))
	return ok
}

// GetString returns the value at key when it is a string.
func (c *Config) GetString(key string) (string, bool) {
	v, ok := c.lookup(c.splitKey(key))
	s, isStr := v.(string)
	return s, ok && isStr
}

// GetBool returns the value at key when it is a boolean.
func (c *Config) GetBool(key string) (bool, bool) {
	v, ok := c.lookup(c.splitKey(key))
	b, isBool := v.(bool)
	return b, ok && isBool
}

// GetInt returns the value at key when it is an integer (or a float or string
// holding one).
func (c *Config) GetInt(key string) (int, bool) {
	v, ok := c.lookup(c.splitKey(key))
	if !ok {
		return 0, false
	}
	return toInt(v)
}

// Sub returns the mapping at key as a view sharing storage with c, or nil when
// key is absent or not a mapping.
func (c *Config) Sub(key string) *Config {
	v, ok := c.lookup(c.splitKey(key))
	if !ok {
		return nil
	}
	m, isMap := v.(*mapping)
	if !isMap {
		return nil
	}
	return &Config{m: m, file: c.file}
}

// Set stores v at key, creating intermediate mappings. v may be a scalar, a
// *Config (copied), a map[string]any or map[string]string (keys sorted), or a
// slice of those.
func (c *Config) Set(key string, v any) error {
	return c.SetPath(c.splitKey(key), v)
}

// SetPath is Set with the key already split into its parts.
func (c *Config) SetPath(path []string, v any) error {
	if len(path) == 0 {
		return fmt.Errorf("set config value: %w: empty key", errs.ErrInvalid)
	}
	nv, err := normalize(v)
	if err != nil {
		return fmt.Errorf("set %q: %w", strings.Join(path, "."), err)
	}
	if c.m == nil {
		c.m = newMapping()
	}
	var cur any = c.m
	for i, k := range path[:len(path)-1] {
		switch t := cur.(type) {
		case *mapping:
			next, ok := t.vals[k]
			switch next.(type) {
			case *mapping, []any:
			default:
				if ok && next != nil {
					return fmt.Errorf("set %q: %w: %q is a %s, not a mapping",
						strings.Join(path, "."), errs.ErrInvalid, strings.Join(path[:i+1], "."), kindOf(next))
				}
				next = newMapping()
				t.set(k, next)
			}
			cur = next
		case []any:
			idx, err := strconv.Atoi(k)
			if err != nil || idx < 0 || idx >= len(t) {
				return fmt.Errorf("set %q: %w: no list index %q", strings.Join(path, "."), errs.ErrInvalid, k)
			}
			if t[idx] == nil {
				t[idx] = newMapping()
			}
			cur = t[idx]
		}
	}
	last := path[len(path)-1]
	switch t := cur.(type) {
	case *mapping:
		t.set(last, nv)
	case []any:
		idx, err := strconv.Atoi(last)
		if err != nil || idx < 0 || idx >= len(t) {
			return fmt.Errorf("set %q: %w: no list index %q", strings.Join(path, "."), errs.ErrInvalid, last)
		}
		t[idx] = nv
	default:
		return fmt.Errorf("set %q: %w: parent is a %s, not a mapping", strings.Join(path, "."), errs.ErrInvalid, kindOf(cur))
	}
	return nil
}

// Delete removes key and reports whether it was present. Emptied parent
// mappings are kept, as upstream does.
func (c *Config) Delete(key string) bool {
	path := c.splitKey(key)
	if len(path) == 0 {
		return false
	}
	parent, ok := c.lookup(path[:len(path)-1])
	if !ok {
		return false
	}
	m, isMap := parent.(*mapping)
	if !isMap {
		return false
	}
	return m.del(path[len(path)-1])
}

// Merge deep-merges over into c: mappings merge key by key, anything else in
// over (scalars, lists) replaces what c had. Keys new to c are appended in
// over's order. over is copied, never shared.
func (c *Config) Merge(over *Config) {
	if over == nil || over.m == nil {
		return
	}
	if c.m == nil {
		c.m = newMapping()
	}
	mergeMapping(c.m, over.m)
}

// Clone returns a deep copy.
func (c *Config) Clone() *Config {
	if c == nil {
		return New()
	}
	if c.m == nil {
		return &Config{m: newMapping(), file: c.file}
	}
	return &Config{m: c.m.clone(), file: c.file}
}

// Equal reports whether c and o hold the same keys, in the same order, and values.
func (c *Config) Equal(o *Config) bool {
	return reflect.DeepEqual(c.Clone().Plain(), o.Clone().Plain()) && slices.Equal(c.Keys(), o.Keys())
}

// Plain returns the content as map[string]any / []any / scalars (a deep copy,
// key order lost), for callers that decode into their own types.
func (c *Config) Plain() map[string]any {
	if c == nil || c.m == nil {
		return map[string]any{}
	}
	return plain(c.m).(map[string]any)
}

// YAML renders the config in key order. A password in registry.password or in
// the registry.db URL is shown as "***": secrets never leave through here.
func (c *Config) YAML() ([]byte, error) {
	m := c.redacted()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{toNode(m)}}
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode config as YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config as YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// JSON renders the config as indented JSON in key order, redacted like YAML.
func (c *Config) JSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, c.redacted(), ""); err != nil {
		return nil, fmt.Errorf("encode config as JSON: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// String is the YAML form (redacted), for messages and debugging.
func (c *Config) String() string {
	b, err := c.YAML()
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(b)
}

// redacted returns c's mapping, or a copy with registry passwords masked.
func (c *Config) redacted() *mapping {
	if c == nil || c.m == nil {
		return newMapping()
	}
	reg, ok := c.m.vals["registry"].(*mapping)
	if !ok {
		return c.m
	}
	pw, hasPW := reg.vals["password"]
	db, _ := reg.vals["db"].(string)
	rdb := redactURL(db)
	if (!hasPW || pw == nil || pw == "") && rdb == db {
		return c.m
	}
	m := c.m.clone()
	r := m.vals["registry"].(*mapping)
	if hasPW && pw != nil && pw != "" {
		r.set("password", "***")
	}
	if rdb != db {
		r.set("db", rdb)
	}
	return m
}

// splitKey turns a user key into path parts (see the Config doc comment).
func (c *Config) splitKey(key string) []string {
	if key == "" {
		return nil
	}
	r, size := utf8.DecodeRuneInString(key)
	if unicode.IsLetter(r) || unicode.IsDigit(r) {
		if c != nil && c.m != nil {
			if _, ok := c.m.vals[key]; ok {
				return []string{key}
			}
		}
		return splitEscaped(key, ".")
	}
	if c != nil && c.m != nil {
		// Upstream looks a name up directly first, so "__null__" is one key.
		if _, ok := c.m.vals[key]; ok {
			return []string{key}
		}
	}
	return splitEscaped(key[size:], string(r))
}

// splitEscaped splits s on d, where `\d` stands for a literal d.
func splitEscaped(s, d string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], `\`+d) {
			cur.WriteString(d)
			i += 1 + len(d)
			continue
		}
		if strings.HasPrefix(s[i:], d) {
			parts = append(parts, cur.String())
			cur.Reset()
			i += len(d)
			continue
		}
		cur.WriteByte(s[i])
		i++
	}
	return append(parts, cur.String())
}

func (c *Config) lookup(path []string) (any, bool) {
	if c == nil || c.m == nil || len(path) == 0 {
		return nil, false
	}
	var cur any = c.m
	for _, k := range path {
		switch t := cur.(type) {
		case *mapping:
			v, ok := t.vals[k]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			idx, err := strconv.Atoi(k)
			if err != nil || idx < 0 || idx >= len(t) {
				return nil, false
			}
			cur = t[idx]
		default:
			return nil, false
		}
	}
	return cur, true
}

func (c *Config) export(v any) any {
	switch t := v.(type) {
	case *mapping:
		return &Config{m: t, file: c.file}
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = c.export(e)
		}
		return out
	}
	return v
}

// mapping is an insertion-ordered string-keyed map.
type mapping struct {
	keys []string
	vals map[string]any
}

func newMapping() *mapping { return &mapping{vals: map[string]any{}} }

// get, sub and str accept a nil mapping, so lookups can be chained.
func (m *mapping) get(k string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.vals[k]
	return v, ok
}

func (m *mapping) sub(k string) *mapping {
	if m == nil {
		return nil
	}
	s, _ := m.vals[k].(*mapping)
	return s
}

func (m *mapping) str(k string) string {
	if m == nil {
		return ""
	}
	s, _ := m.vals[k].(string)
	return s
}

func (m *mapping) set(k string, v any) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

func (m *mapping) del(k string) bool {
	if _, ok := m.vals[k]; !ok {
		return false
	}
	delete(m.vals, k)
	m.keys = slices.DeleteFunc(m.keys, func(s string) bool { return s == k })
	return true
}

func (m *mapping) clone() *mapping {
	out := &mapping{keys: slices.Clone(m.keys), vals: make(map[string]any, len(m.vals))}
	for k, v := range m.vals {
		out.vals[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch t := v.(type) {
	case *mapping:
		return t.clone()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

// mergeMapping merges src into dst; src wins, nested mappings merge.
func mergeMapping(dst, src *mapping) {
	for _, k := range src.keys {
		sv := src.vals[k]
		if sm, ok := sv.(*mapping); ok {
			if dm, ok := dst.vals[k].(*mapping); ok {
				mergeMapping(dm, sm)
				continue
			}
		}
		dst.set(k, cloneValue(sv))
	}
}

func kindOf(v any) string {
	switch v.(type) {
	case *mapping:
		return "mapping"
	case []any:
		return "list"
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "number"
}

func toInt(v any) (int, bool) {
	switch t := v.(type) {
	case int:
		return t, true
	case int64:
		return int(t), true
	case uint64:
		if t > math.MaxInt {
			return 0, false
		}
		return int(t), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int(t), true
		}
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(t))
		return n, err == nil
	}
	return 0, false
}

// normalize converts a caller's value into the internal representation.
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, bool, string, int, int64, uint64, float64:
		return t, nil
	case int8, int16, int32, uint8, uint16, uint32, uint:
		return reflect.ValueOf(t).Convert(reflect.TypeFor[int64]()).Interface(), nil
	case float32:
		return float64(t), nil
	case *Config:
		if t == nil || t.m == nil {
			return newMapping(), nil
		}
		return t.m.clone(), nil
	case *mapping:
		return t.clone(), nil
	case map[string]any:
		m := newMapping()
		for _, k := range slices.Sorted(maps.Keys(t)) {
			nv, err := normalize(t[k])
			if err != nil {
				return nil, err
			}
			m.set(k, nv)
		}
		return m, nil
	case map[string]string:
		m := newMapping()
		for _, k := range slices.Sorted(maps.Keys(t)) {
			m.set(k, t[k])
		}
		return m, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			nv, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		out := make([]any, rv.Len())
		for i := range out {
			nv, err := normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = nv
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: unsupported value type %T", errs.ErrInvalid, v)
}

// plain converts to map[string]any / []any, deep-copying.
func plain(v any) any {
	switch t := v.(type) {
	case *mapping:
		out := make(map[string]any, len(t.vals))
		for k, e := range t.vals {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// toNode builds the YAML node tree for v.
func toNode(v any) *yaml.Node {
	switch t := v.(type) {
	case *mapping:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range t.keys {
			n.Content = append(n.Content, toNode(k), toNode(t.vals[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range t {
			n.Content = append(n.Content, toNode(e))
		}
		return n
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: formatFloat(t)}
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(t)}
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(t, 10)}
	case string:
		if utf8.ValidString(t) {
			return stringNode(t)
		}
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
	}
	return n
}

// stringNode is the node yaml.Node.Encode makes of the valid UTF-8 string s,
// without its round trip through YAML text (an encoder and a parser per
// scalar, most of the time of writing butler.yaml). A newline asks for the
// literal style; YAML 1.1 booleans and base-60 numbers are double-quoted, as
// the encoder quotes them for older readers; any other string that would not
// read back as a string is quoted by the encoder itself, because of the tag.
func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch {
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
	case isYAML11Bool(s) || isBase60(s):
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// isYAML11Bool reports whether s is one of YAML 1.1's boolean words.
func isYAML11Bool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"on", "On", "ON", "off", "Off", "OFF":
		return true
	}
	return false
}

// isBase60 reports whether s is a YAML 1.1 sexagesimal number such as
// 190:20:30 or -1:30.5: [-+]digit[digits_]*(:[0-5]?digit)+(.[digits_]*)?
func isBase60(s string) bool {
	if !strings.Contains(s, ":") {
		return false
	}
	s = strings.TrimLeft(s[:1], "-+") + s[1:]
	if s == "" || s[0] < '0' || s[0] > '9' {
		return false
	}
	i := 1
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '_') {
		i++
	}
	groups := 0
	for i < len(s) && s[i] == ':' {
		i++
		j := i
		for j < len(s) && j-i < 2 && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		switch {
		case j == i, j-i == 2 && s[i] > '5':
			return false
		}
		i, groups = j, groups+1
	}
	if groups == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '_') {
			i++
		}
	}
	return i == len(s)
}

// formatFloat keeps a float a float on reload ("16.0", not "16").
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

func writeJSON(buf *bytes.Buffer, v any, indent string) error {
	switch t := v.(type) {
	case *mapping:
		if len(t.keys) == 0 {
			buf.WriteString("{}")
			return nil
		}
		buf.WriteString("{\n")
		for i, k := range t.keys {
			buf.WriteString(indent + "  ")
			if err := writeJSONScalar(buf, k); err != nil {
				return err
			}
			buf.WriteString(": ")
			if err := writeJSON(buf, t.vals[k], indent+"  "); err != nil {
				return err
			}
			if i < len(t.keys)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "}")
	case []any:
		if len(t) == 0 {
			buf.WriteString("[]")
			return nil
		}
		buf.WriteString("[\n")
		for i, e := range t {
			buf.WriteString(indent + "  ")
			if err := writeJSON(buf, e, indent+"  "); err != nil {
				return err
			}
			if i < len(t)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "]")
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return fmt.Errorf("%w: %v has no JSON form", errs.ErrInvalid, t)
		}
		buf.WriteString(formatFloat(t))
	default:
		return writeJSONScalar(buf, t)
	}
	return nil
}

// writeJSONScalar encodes without HTML escaping, so "<butlerRoot>" stays readable.
func writeJSONScalar(buf *bytes.Buffer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return nil
}
