package obsinfo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/pyrepr"
)

// Header is one FITS header as a map. Values are string, int64, float64,
// bool, or nil for an undefined value. Keys are upper case with any HIERARCH
// prefix removed ("SIMULATE ATDOME"), which is what the FITS reader produces.
type Header = map[string]any

// Header keys that mark a header as already corrected; astro_metadata_translator
// adds them after fixing a header and skips headers that carry them.
const (
	fixupSentinel      = "ASTRO METADATA FIX MODIFIED"
	fixupSentinelLong  = "HIERARCH " + fixupSentinel
	propertyListTag    = "lsst.daf.base.PropertyList"
	propertyListTagAlt = "!<lsst.daf.base.PropertyList>"
)

// LoadHeaderDump reads a header dump in any of the three forms found in
// obs_lsst's tests and in sidecar files:
//   - a YAML mapping of KEY: value;
//   - a YAML sequence tagged !<lsst.daf.base.PropertyList> of
//     [key, type, value, comment] entries;
//   - a JSON object, optionally with "__CONTENT__": "metadata".
//
// A JSON object whose __CONTENT__ is "translated" holds a serialized
// ObservationInfo, not a header, and is refused with errs.ErrUnsupported.
func LoadHeaderDump(path string) (Header, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read header dump %q: %w", path, err)
	}
	h, err := ParseHeaderDump(b)
	if err != nil {
		return nil, fmt.Errorf("read header dump %q: %w", path, err)
	}
	return h, nil
}

// ParseHeaderDump parses the contents of a header dump (see LoadHeaderDump).
func ParseHeaderDump(b []byte) (Header, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parseJSONDump(trimmed)
	}
	return parseYAMLDump(b)
}

func parseJSONDump(b []byte) (Header, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: JSON: %w", errs.ErrInvalid, err)
	}
	if c, ok := raw["__CONTENT__"]; ok {
		switch c {
		case "metadata":
		case "translated":
			return nil, fmt.Errorf("%w: JSON holds a translated ObservationInfo, not a header", errs.ErrUnsupported)
		default:
			return nil, fmt.Errorf("%w: JSON __CONTENT__ %v is not \"metadata\"", errs.ErrInvalid, c)
		}
	}
	h := Header{}
	for k, v := range raw {
		if k == "__CONTENT__" {
			continue
		}
		val, err := jsonValue(v)
		if err != nil {
			return nil, fmt.Errorf("%w: key %q: %w", errs.ErrInvalid, k, err)
		}
		h[normalizeKey(k)] = val
	}
	return h, nil
}

func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool:
		return v, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return nil, err
		}
		return f, nil
	case []any:
		return joinList(v, jsonValue)
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
}

func parseYAMLDump(b []byte) (Header, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: YAML: %w", errs.ErrInvalid, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("%w: YAML is not a single document", errs.ErrInvalid)
	}
	root := doc.Content[0]
	h := Header{}
	switch {
	case root.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			val, err := yamlValue(v)
			if err != nil {
				return nil, fmt.Errorf("%w: key %q (line %d): %w", errs.ErrInvalid, k.Value, v.Line, err)
			}
			h[normalizeKey(k.Value)] = val // later duplicates win, as in PyYAML
		}
	case root.Kind == yaml.SequenceNode && (root.Tag == propertyListTag || root.Tag == propertyListTagAlt || strings.HasSuffix(root.Tag, propertyListTag)):
		for _, e := range root.Content {
			if e.Kind != yaml.SequenceNode || len(e.Content) < 3 {
				return nil, fmt.Errorf("%w: PropertyList entry at line %d is not [key, type, value, comment]", errs.ErrInvalid, e.Line)
			}
			key, typ := e.Content[0].Value, e.Content[1].Value
			val, err := yamlValue(e.Content[2])
			if err != nil {
				return nil, fmt.Errorf("%w: key %q (line %d): %w", errs.ErrInvalid, key, e.Line, err)
			}
			if val, err = propertyListValue(typ, val); err != nil {
				return nil, fmt.Errorf("%w: key %q (line %d): %w", errs.ErrInvalid, key, e.Line, err)
			}
			h[normalizeKey(key)] = val
		}
	default:
		return nil, fmt.Errorf("%w: YAML is neither a mapping nor a PropertyList (tag %q)", errs.ErrInvalid, root.Tag)
	}
	return h, nil
}

// propertyListValue applies the PropertyList type column the way the
// upstream test loader does (Double → float, Int → int).
func propertyListValue(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "Double", "Float":
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		return nil, fmt.Errorf("%s value %v is not a number", typ, v)
	case "Int", "Long", "LongLong", "Short":
		switch v := v.(type) {
		case int64:
			return v, nil
		case float64:
			if v == math.Trunc(v) {
				return int64(v), nil
			}
		}
		return nil, fmt.Errorf("%s value %v is not an integer", typ, v)
	}
	return v, nil
}

func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.SequenceNode:
		items := make([]any, len(n.Content))
		for i, c := range n.Content {
			items[i] = c
		}
		return joinList(items, func(v any) (any, error) { return yamlValue(v.(*yaml.Node)) })
	case yaml.MappingNode:
		return nil, fmt.Errorf("nested mapping is not a header value")
	}
	if n.Style == 0 {
		// Plain scalars are resolved with PyYAML's YAML 1.1 rules, which is
		// what wrote and reads these dumps: "0000189126e1" stays a string
		// (YAML 1.2 would make it a float), "yes" is true.
		return resolvePlain(n.Value)
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		var f float64 // too large for int64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		return f, nil
	default:
		// Quoted strings, and explicitly tagged timestamps, which stay as
		// written (a GROUPID must keep its exact text).
		return n.Value, nil
	}
}

// PyYAML's implicit resolvers (YAML 1.1) for plain scalars.
var (
	yaml11Bool = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	})
	yaml11Int = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	})
	yaml11Float = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	})
	yaml11Null = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	})
)

func resolvePlain(v string) (any, error) {
	switch {
	case yaml11Null().MatchString(v):
		return nil, nil
	case yaml11Bool().MatchString(v):
		switch v[0] {
		case 'y', 'Y', 't', 'T':
			return true, nil
		case 'o', 'O':
			return v == "on" || v == "On" || v == "ON", nil
		}
		return false, nil
	case yaml11Int().MatchString(v):
		return yaml11ParseInt(v)
	case yaml11Float().MatchString(v):
		return yaml11ParseFloat(v)
	}
	return v, nil
}

func yaml11ParseInt(v string) (any, error) {
	s := strings.ReplaceAll(v, "_", "")
	sign := int64(1)
	switch {
	case strings.HasPrefix(s, "-"):
		sign, s = -1, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	var i int64
	var err error
	switch {
	case s == "0":
		return int64(0), nil
	case strings.HasPrefix(s, "0b"):
		i, err = strconv.ParseInt(s[2:], 2, 64)
	case strings.HasPrefix(s, "0x"):
		i, err = strconv.ParseInt(s[2:], 16, 64)
	case strings.HasPrefix(s, "0"):
		i, err = strconv.ParseInt(s[1:], 8, 64)
	case strings.Contains(s, ":"):
		for _, part := range strings.Split(s, ":") {
			d, perr := strconv.ParseInt(part, 10, 64)
			if perr != nil {
				return nil, perr
			}
			i = i*60 + d
		}
	default:
		i, err = strconv.ParseInt(s, 10, 64)
		if err != nil { // beyond int64: keep the magnitude as a float
			f, ferr := strconv.ParseFloat(s, 64)
			if ferr != nil {
				return nil, ferr
			}
			return float64(sign) * f, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return sign * i, nil
}

func yaml11ParseFloat(v string) (any, error) {
	s := strings.ToLower(strings.ReplaceAll(v, "_", ""))
	switch strings.TrimLeft(s, "+-") {
	case ".inf":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case ".nan":
		return math.NaN(), nil
	}
	if strings.Contains(s, ":") {
		sign := 1.0
		switch {
		case strings.HasPrefix(s, "-"):
			sign, s = -1, s[1:]
		case strings.HasPrefix(s, "+"):
			s = s[1:]
		}
		total := 0.0
		for _, part := range strings.Split(s, ":") {
			d, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return nil, err
			}
			total = total*60 + d
		}
		return sign * total, nil
	}
	return strconv.ParseFloat(s, 64)
}

// joinList turns a list value (COMMENT and HISTORY cards, or a repeated key)
// into one scalar: strings are joined by newlines; otherwise the last value
// wins, as PropertyList's scalar access does.
func joinList(items []any, conv func(any) (any, error)) (any, error) {
	vals := make([]any, 0, len(items))
	allStrings := true
	for _, it := range items {
		v, err := conv(it)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(string); !ok {
			allStrings = false
		}
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		return nil, nil
	}
	if allStrings {
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v.(string)
		}
		return strings.Join(parts, "\n"), nil
	}
	return vals[len(vals)-1], nil
}

// normalizeKey upper-cases a key and removes a HIERARCH prefix, whether
// written with a space (FITS, PyYAML dumps) or a dot (PropertyList JSON,
// which also joins the words with dots).
func normalizeKey(k string) string {
	k = strings.ToUpper(strings.TrimSpace(k))
	switch {
	case strings.HasPrefix(k, "HIERARCH."):
		return strings.ReplaceAll(k[len("HIERARCH."):], ".", " ")
	case strings.HasPrefix(k, "HIERARCH "):
		return strings.TrimSpace(k[len("HIERARCH "):])
	}
	return k
}

// toFloat converts a numeric header value; numeric strings count, as
// Python's float() accepts them.
func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "nan":
				return math.NaN(), true
			case "inf", "+inf", "infinity":
				return math.Inf(1), true
			case "-inf", "-infinity":
				return math.Inf(-1), true
			}
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// toInt converts a header value the way Python's int() does for the values
// headers hold: integers, integral floats, and decimal strings.
func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false
		}
		return int64(v), true // int() truncates
	case string:
		s := strings.ReplaceAll(strings.TrimSpace(v), "_", "")
		i, err := strconv.ParseInt(s, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// pyStr renders a value as Python's str() would for header values.
func pyStr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return pyrepr.Float(v)
	}
	return fmt.Sprint(v)
}

// truthy is Python's truth value of a header value.
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case int64:
		return v != 0
	case int:
		return v != 0
	case float64:
		return v != 0
	case string:
		return v != ""
	}
	return true
}
