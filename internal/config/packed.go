package config

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"
	"slices"

	"github.com/gobutler/butler/errs"
)

//go:generate go test -run TestPackedDefaults_Current -update-packed .

// packedDefaults holds the packaged default files that packagedDefaults
// serves, already parsed (includes resolved), in the form encodePacked
// writes: parsing their YAML took 4 to 6 ms in every command that opened or
// created a repository, decoding this takes a few hundred microseconds.
// `go generate ./internal/config` rewrites it; TestPackedDefaults_Current
// fails when it no longer matches the YAML files.
//
//go:embed packed_defaults.bin
var packedDefaults []byte

// packedMagic starts packed_defaults.bin.
const packedMagic = "butler-packed-config-1\n"

// packedFileNames are the packaged files packagedDefaults serves: each
// component's file and each datastore class's.
func packedFileNames() []string {
	var names []string
	for _, c := range components {
		names = append(names, c.file)
	}
	for _, cls := range []string{FileDatastoreClass, ChainedDatastoreClass, InMemoryDatastoreClass} {
		names = append(names, datastoreDefaultFile(cls))
	}
	return names
}

// parsePackagedFiles parses the packaged files from the embedded YAML.
func parsePackagedFiles() (map[string]parsedDefault, error) {
	out := map[string]parsedDefault{}
	sub, err := fs.Sub(embedded, "defaults")
	if err != nil {
		return nil, err
	}
	for _, p := range packedFileNames() {
		if _, err := fs.Stat(sub, p); err != nil {
			continue // no packaged file of that name
		}
		m, err := (&loader{fsys: sub}).loadMapping(p)
		out[p] = parsedDefault{m, err}
	}
	return out, nil
}

// encodePacked writes files (sorted by name): per file its name and its
// mapping. Values are tagged: n nil, t/f bool, i int, d float64, s string, l
// list, m mapping (keys in order).
func encodePacked(files map[string]*mapping) ([]byte, error) {
	out := []byte(packedMagic)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	out = binary.AppendUvarint(out, uint64(len(names)))
	for _, n := range names {
		out = appendString(out, n)
		var err error
		if out, err = appendValue(out, files[n]); err != nil {
			return nil, fmt.Errorf("pack %s: %w", n, err)
		}
	}
	return out, nil
}

func appendString(out []byte, s string) []byte {
	out = binary.AppendUvarint(out, uint64(len(s)))
	return append(out, s...)
}

func appendValue(out []byte, v any) ([]byte, error) {
	switch t := v.(type) {
	case nil:
		return append(out, 'n'), nil
	case bool:
		if t {
			return append(out, 't'), nil
		}
		return append(out, 'f'), nil
	case int:
		return binary.AppendVarint(append(out, 'i'), int64(t)), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(out, 'd'), math.Float64bits(t)), nil
	case string:
		return appendString(append(out, 's'), t), nil
	case []any:
		out = binary.AppendUvarint(append(out, 'l'), uint64(len(t)))
		for _, e := range t {
			var err error
			if out, err = appendValue(out, e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *mapping:
		out = binary.AppendUvarint(append(out, 'm'), uint64(len(t.keys)))
		for _, k := range t.keys {
			out = appendString(out, k)
			var err error
			if out, err = appendValue(out, t.vals[k]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: cannot pack a %T", errs.ErrUnsupported, v)
}

// decodePacked reads what encodePacked wrote.
func decodePacked(b []byte) (map[string]*mapping, error) {
	d := packedDecoder{b: b}
	if len(b) < len(packedMagic) || string(b[:len(packedMagic)]) != packedMagic {
		return nil, fmt.Errorf("packed default configs: %w: no header", errs.ErrInvalid)
	}
	d.b = d.b[len(packedMagic):]
	n := d.uvarint()
	out := make(map[string]*mapping, min(n, 64))
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.string()
		m, ok := d.value(0).(*mapping)
		if !ok && d.err == nil {
			d.fail("file is not a mapping")
		}
		out[name] = m
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("packed default configs: %w: %s", errs.ErrInvalid, d.err)
	}
	return out, nil
}

type packedDecoder struct {
	b   []byte
	err error
}

func (d *packedDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s", what)
	}
	d.b = nil
}

func (d *packedDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > uint64(len(d.b)) {
		d.fail("truncated")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *packedDecoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("truncated")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *packedDecoder) value(depth int) any {
	if len(d.b) == 0 || depth > 100 {
		d.fail("truncated")
		return nil
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case 'n':
		return nil
	case 't':
		return true
	case 'f':
		return false
	case 'i':
		v, n := binary.Varint(d.b)
		if n <= 0 {
			d.fail("truncated")
			return nil
		}
		d.b = d.b[n:]
		return int(v)
	case 'd':
		if len(d.b) < 8 {
			d.fail("truncated")
			return nil
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return v
	case 's':
		return d.string()
	case 'l':
		n := d.uvarint()
		out := make([]any, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			out = append(out, d.value(depth+1))
		}
		return out
	case 'm':
		n := d.uvarint()
		m := &mapping{keys: make([]string, 0, n), vals: make(map[string]any, n)}
		for i := uint64(0); i < n && d.err == nil; i++ {
			k := d.string()
			m.keys = append(m.keys, k)
			m.vals[k] = d.value(depth + 1)
		}
		return m
	}
	d.fail(fmt.Sprintf("unknown tag %q", tag))
	return nil
}
