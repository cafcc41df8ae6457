package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/errs"
)

// includeKey lists files whose content is merged under the mapping holding it.
const includeKey = "includeConfigs"

// maxNodes bounds alias expansion so a hostile file cannot blow up memory.
const maxNodes = 1 << 22

// Load reads a YAML or JSON (by ".json" extension) config file, resolving
// `!include` tags and includeConfigs keys relative to the file.
func Load(path string) (*Config, error) {
	p, err := localPath(path)
	if err != nil {
		return nil, fmt.Errorf("load config %q: %w", path, err)
	}
	l := &loader{}
	m, err := l.loadMapping(p)
	if err != nil {
		return nil, err
	}
	return &Config{m: m, file: p}, nil
}

// Parse reads YAML config text; `!include` and includeConfigs paths are
// relative to dir ("" means the current directory).
func Parse(data []byte, dir string) (*Config, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("parse config: resolve %q: %w", dir, err)
	}
	l := &loader{}
	v, err := l.parseYAML(data, "<config text>", abs)
	if err != nil {
		return nil, err
	}
	m, err := l.finish(v, "<config text>", abs)
	if err != nil {
		return nil, err
	}
	return &Config{m: m}, nil
}

// loader reads config files from the OS (fsys == nil) or from an fs.FS (the
// embedded defaults), following includes.
type loader struct {
	fsys  fs.FS
	stack []string // files being read, outermost first, to detect include cycles
	nodes int      // YAML nodes converted, bounded by maxNodes
}

func (l *loader) read(name string) ([]byte, error) {
	if l.fsys != nil {
		return fs.ReadFile(l.fsys, name)
	}
	return os.ReadFile(name)
}

func (l *loader) exists(name string) bool {
	var fi fs.FileInfo
	var err error
	if l.fsys != nil {
		fi, err = fs.Stat(l.fsys, name)
	} else {
		fi, err = os.Stat(name)
	}
	return err == nil && !fi.IsDir()
}

func (l *loader) dir(name string) string {
	if l.fsys != nil {
		return path.Dir(name)
	}
	return filepath.Dir(name)
}

// resolve finds a file named in an include, relative to dir.
func (l *loader) resolve(dir, name string) (string, error) {
	if l.fsys != nil {
		if path.IsAbs(name) || hasScheme(name) {
			return "", fmt.Errorf("%w: %q: embedded configs include only relative paths", errs.ErrUnsupported, name)
		}
		return path.Join(dir, name), nil
	}
	if hasScheme(name) || filepath.IsAbs(name) || strings.HasPrefix(name, "~/") {
		return localPath(name)
	}
	return filepath.Join(dir, filepath.FromSlash(name)), nil
}

// loadValue reads one file (any top-level YAML value) with its includes.
func (l *loader) loadValue(name string) (any, error) {
	for i, s := range l.stack {
		if s == name {
			chain := append(append([]string{}, l.stack[i:]...), name)
			return nil, fmt.Errorf("load config %q: %w: include cycle %s", name, errs.ErrInvalid, strings.Join(chain, " -> "))
		}
	}
	data, err := l.read(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load config %q: %w: %w", name, errs.ErrNotFound, err)
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("load config %q: %w: %w", name, errs.ErrPermission, err)
		}
		return nil, fmt.Errorf("load config %q: %w", name, err)
	}
	l.stack = append(l.stack, name)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()
	dir := l.dir(name)
	var v any
	if strings.EqualFold(path.Ext(name), ".json") {
		v, err = parseJSON(data, name)
	} else {
		v, err = l.parseYAML(data, name, dir)
	}
	if err != nil {
		return nil, err
	}
	return l.processIncludes(v, name, dir)
}

// loadMapping reads a file whose top level must be a mapping.
func (l *loader) loadMapping(name string) (*mapping, error) {
	v, err := l.loadValue(name)
	if err != nil {
		return nil, err
	}
	return topMapping(v, name)
}

func (l *loader) finish(v any, file, dir string) (*mapping, error) {
	v, err := l.processIncludes(v, file, dir)
	if err != nil {
		return nil, err
	}
	return topMapping(v, file)
}

func topMapping(v any, file string) (*mapping, error) {
	switch t := v.(type) {
	case nil:
		return newMapping(), nil
	case *mapping:
		return t, nil
	}
	return nil, fmt.Errorf("parse config %q: %w: top level is a %s, not a mapping", file, errs.ErrInvalid, kindOf(v))
}

var yamlLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^yaml: line (\d+): `)
})

func (l *loader) parseYAML(data []byte, file, dir string) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		msg := err.Error()
		if m := yamlLine().FindStringSubmatch(msg); m != nil {
			msg = "line " + m[1] + ": " + msg[len(m[0]):]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		return nil, fmt.Errorf("parse config %q: %w: %s", file, errs.ErrInvalid, msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		return nil, fmt.Errorf("parse config %q: %w: line %d: more than one YAML document", file, errs.ErrInvalid, line)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	c := &converter{l: l, file: file, dir: dir}
	return c.value(doc.Content[0], 0)
}

// converter turns yaml.Nodes into config values, expanding aliases, merge
// keys and `!include`.
type converter struct {
	l         *loader
	file, dir string
}

func (c *converter) errorf(n *yaml.Node, kind error, format string, args ...any) error {
	return fmt.Errorf("parse config %q: %w: line %d: %s", c.file, kind, n.Line, fmt.Sprintf(format, args...))
}

func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	c.l.nodes++
	if c.l.nodes > maxNodes || depth > 1000 {
		return nil, c.errorf(n, errs.ErrInvalid, "document too large or too deeply nested (alias expansion?)")
	}
	if n.Kind == yaml.AliasNode {
		return c.value(n.Alias, depth+1)
	}
	if n.Tag == "!include" {
		return c.include(n, depth)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") && n.Tag != "!" {
		return nil, c.errorf(n, errs.ErrInvalid, "unknown tag %s", n.Tag)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth+1)
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		if n.Style == 0 && n.Tag == "!!str" {
			// PyYAML reads YAML 1.1, where plain yes/no/on/off are booleans.
			if b, ok := yaml11Bool(n.Value); ok {
				return b, nil
			}
		}
		if v, ok := plainScalar(n); ok {
			return v, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, c.errorf(n, errs.ErrInvalid, "%v", err)
		}
		return v, nil
	}
	return nil, c.errorf(n, errs.ErrInvalid, "unexpected YAML node")
}

func (c *converter) mapping(n *yaml.Node, depth int) (*mapping, error) {
	m := newMapping()
	var explicit []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
			// Merge keys supply defaults; explicit keys below override them,
			// and among merged mappings the first listed wins.
			srcs := []*yaml.Node{vn}
			if r := resolveAlias(vn); r.Kind == yaml.SequenceNode {
				srcs = r.Content
			}
			for _, s := range srcs {
				v, err := c.value(s, depth+1)
				if err != nil {
					return nil, err
				}
				sm, ok := v.(*mapping)
				if !ok {
					return nil, c.errorf(s, errs.ErrInvalid, "merge key value is a %s, not a mapping", kindOf(v))
				}
				for _, k := range sm.keys {
					if _, seen := m.vals[k]; !seen {
						m.set(k, sm.vals[k])
					}
				}
			}
			continue
		}
		explicit = append(explicit, kn, vn)
	}
	for i := 0; i < len(explicit); i += 2 {
		kn, vn := resolveAlias(explicit[i]), explicit[i+1]
		if kn.Kind != yaml.ScalarNode {
			return nil, c.errorf(kn, errs.ErrInvalid, "mapping key is not a scalar")
		}
		v, err := c.value(vn, depth+1)
		if err != nil {
			return nil, err
		}
		m.set(kn.Value, v) // a repeated key: the last one wins, as in PyYAML
	}
	return m, nil
}

// yaml11Bool reports the YAML 1.1 boolean a plain scalar spells, if any.
func yaml11Bool(s string) (value, ok bool) {
	switch s {
	case "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// include reads the file(s) named by a `!include` node: a scalar gives one
// file's content, a sequence a list of contents, a mapping key → content.
func (c *converter) include(n *yaml.Node, depth int) (any, error) {
	one := func(nameNode *yaml.Node) (any, error) {
		nameNode = resolveAlias(nameNode)
		if nameNode.Kind != yaml.ScalarNode {
			return nil, c.errorf(nameNode, errs.ErrInvalid, "!include needs a file name")
		}
		p, err := c.l.resolve(c.dir, nameNode.Value)
		if err != nil {
			return nil, c.errorf(nameNode, errs.ErrInvalid, "!include %q: %v", nameNode.Value, err)
		}
		v, err := c.l.loadValue(p)
		if err != nil {
			return nil, fmt.Errorf("parse config %q: line %d: !include %q: %w", c.file, nameNode.Line, nameNode.Value, err)
		}
		return v, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return one(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := one(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		m := newMapping()
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := one(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m.set(resolveAlias(n.Content[i]).Value, v)
		}
		return m, nil
	}
	return nil, c.errorf(n, errs.ErrInvalid, "!include on an unsupported node")
}

// processIncludes replaces each mapping holding includeConfigs by the named
// files merged in order, with the mapping's own keys merged over them.
func (l *loader) processIncludes(v any, file, dir string) (any, error) {
	switch t := v.(type) {
	case *mapping:
		if inc, ok := t.vals[includeKey]; ok {
			names, err := includeNames(inc)
			if err != nil {
				return nil, fmt.Errorf("parse config %q: %w: %s: %v", file, errs.ErrInvalid, includeKey, err)
			}
			t.del(includeKey)
			base := newMapping()
			for _, name := range names {
				p, err := l.findInclude(dir, name)
				if err != nil {
					return nil, fmt.Errorf("parse config %q: %s %q: %w", file, includeKey, name, err)
				}
				sub, err := l.loadMapping(p)
				if err != nil {
					return nil, fmt.Errorf("parse config %q: %s: %w", file, includeKey, err)
				}
				mergeMapping(base, sub)
			}
			mergeMapping(base, t)
			*t = *base
		}
		for _, k := range t.keys {
			nv, err := l.processIncludes(t.vals[k], file, dir)
			if err != nil {
				return nil, err
			}
			t.vals[k] = nv
		}
		return t, nil
	case []any:
		for i, e := range t {
			nv, err := l.processIncludes(e, file, dir)
			if err != nil {
				return nil, err
			}
			t[i] = nv
		}
	}
	return v, nil
}

func includeNames(v any) ([]string, error) {
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("entry is a %s, not a file name", kindOf(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("value is a %s, not a file name or list", kindOf(v))
}

// findInclude locates an includeConfigs file: $VARS expanded, then relative to
// the including file's directory, then (OS only) to the working directory,
// which upstream also searches.
func (l *loader) findInclude(dir, name string) (string, error) {
	name = expandVars(name)
	p, err := l.resolve(dir, name)
	if err != nil {
		return "", err
	}
	if l.exists(p) {
		return p, nil
	}
	if l.fsys == nil && !filepath.IsAbs(name) && !hasScheme(name) {
		if abs, err := filepath.Abs(name); err == nil && l.exists(abs) {
			return abs, nil
		}
	}
	return "", fmt.Errorf("%w: no file %q", errs.ErrNotFound, p)
}

// expandVars expands $VAR and ${VAR}, leaving unknown variables as written,
// like Python's os.path.expandvars.
func expandVars(s string) string {
	return varRE().ReplaceAllStringFunc(s, func(ref string) string {
		name := strings.Trim(ref[1:], "{}")
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return ref
	})
}

var varRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`\$(\w+|\{[^}]*\})`)
})

var schemeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
})

func hasScheme(s string) bool { return schemeRE().MatchString(s) }

// scheme returns the lower-cased URI scheme of s, or "".
func scheme(s string) string {
	if !hasScheme(s) {
		return ""
	}
	return strings.ToLower(s[:strings.Index(s, "://")])
}

// localPath turns a plain path or file:// URI into an absolute OS path; any
// other scheme is unsupported here.
func localPath(s string) (string, error) {
	switch scheme(s) {
	case "":
		if strings.HasPrefix(s, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				s = filepath.Join(home, s[2:])
			}
		}
		return filepath.Abs(s)
	case "file":
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("%w: %v", errs.ErrInvalid, err)
		}
		return filepath.Clean(filepath.FromSlash(u.Path)), nil
	}
	return "", fmt.Errorf("%w: %s:// locations are not readable by this build", errs.ErrUnsupported, scheme(s))
}

// parseJSON decodes JSON keeping object key order.
func parseJSON(data []byte, file string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jsonValue(dec)
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("unexpected data after the top-level value")
		}
	}
	if errors.Is(err, io.EOF) && len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if err != nil {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		line := 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n"))
		return nil, fmt.Errorf("parse config %q: %w: line %d: %v", file, errs.ErrInvalid, line, err)
	}
	return v, nil
}

func jsonValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := newMapping()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				m.set(k, v)
			}
			_, err := dec.Token() // '}'
			return m, err
		case '[':
			out := []any{}
			for dec.More() {
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			_, err := dec.Token() // ']'
			return out, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		if i, err := strconv.Atoi(t.String()); err == nil {
			return i, nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return tok, nil
}

// plainScalar converts the common scalars (strings, decimal ints, plain
// floats, booleans, null) without yaml.v3's per-node Decode, which builds a
// decoder each time and made reading the packaged defaults cost milliseconds
// on every command. Anything else is left to Decode (ok false).
func plainScalar(n *yaml.Node) (any, bool) {
	switch n.ShortTag() {
	case "!!str":
		return n.Value, true
	case "!!null":
		return nil, true
	case "!!bool":
		switch n.Value {
		case "true", "True", "TRUE":
			return true, true
		case "false", "False", "FALSE":
			return false, true
		}
	case "!!int":
		if i, err := strconv.Atoi(n.Value); err == nil {
			return i, true
		}
	case "!!float":
		if strings.ContainsAny(n.Value, "0123456789") && !strings.ContainsAny(n.Value, "_xXoObB") {
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return f, true
			}
		}
	}
	return nil, false
}
