package datastore

import (
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/pyrepr"
)

// Fields supplies the values a file template refers to.
type Fields interface {
	// Value returns the primary-key value (int64 or string) of a dimension in the data ID,
	// required or implied, or one of the specials: "datasetType" (the parent name),
	// "component" (only for a component), "run", "id" (the dataset UUID), and "skypix" (the
	// value of the data ID's only skypix dimension, if it has exactly one).
	Value(name string) (any, bool)
	// Record returns an attribute of a dimension record of the expanded data ID, such as
	// ("exposure", "obs_id") or ("detector", "full_name"); "skypix" names the record of the
	// skypix dimension. A data ID without records, or a record without that attribute,
	// answers false, and the field is then missing.
	Record(element, field string) (any, bool)
}

// Template is a parsed file template: Python str.format syntax with named fields only, as
// daf_butler's FileTemplate extends it. A template is immutable and safe for concurrent use.
type Template struct {
	text     string
	segments []tmplSegment
}

// segment is literal text followed by an optional replacement field, as Python's
// string.Formatter.parse yields them.
type tmplSegment struct {
	literal string
	field   *tmplField
}

type tmplField struct {
	text      string    // the field as written, for messages
	alts      []tmplAlt // alternates separated by '|', in order of preference
	conv      byte      // 0, 's', 'r' or 'a'
	spec      string    // format spec with '?' and '/' removed
	optional  bool      // '?' in the spec
	keepSlash bool      // '/' in the spec
}

type tmplAlt struct {
	name    string // "visit" or "exposure.obs_id"
	primary string // "visit" or "exposure"
	attr    string // "" or "obs_id"
}

// Fields a template may name that are not dimensions.
const (
	tmplRun         = "run"
	tmplID          = "id"
	tmplDatasetType = "datasetType"
	tmplComponent   = "component"
)

func isSpecialField(name string) bool {
	switch name {
	case tmplRun, tmplID, tmplDatasetType, tmplComponent:
		return true
	}
	return false
}

var tmplNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
})

// ParseTemplate parses s and checks what needs no dataset type: the template names "run" or
// "id"; it names a dimension unless it uses "id"; "id", if used, is in the file name; no
// "../"; no "collection" field. Errors wrap errs.ErrInvalid.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{text: s}
	if err := t.parse(); err != nil {
		return nil, fmt.Errorf("file template %q: %w: %s", s, errs.ErrInvalid, err)
	}
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("file template %q: %w: %s", s, errs.ErrInvalid, err)
	}
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.text }

// parse splits the text as Python's string.Formatter.parse does; "{{" and "}}" end a literal
// segment, which matters for which text an absent optional field drops.
func (t *Template) parse() error {
	s := t.text
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{', c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte(c)
			t.segments = append(t.segments, tmplSegment{literal: lit.String()})
			lit.Reset()
			i += 2
		case c == '}':
			return tmplError(fmt.Sprintf("single '}' at byte %d", i))
		case c == '{':
			end := strings.IndexAny(s[i+1:], "{}")
			if end < 0 {
				return tmplError(fmt.Sprintf("field at byte %d: expected '}' before end of string", i))
			}
			end += i + 1
			if s[end] == '{' {
				return tmplError(fmt.Sprintf("field at byte %d: nested fields are not supported", i))
			}
			f, err := parseTmplField(s[i : end+1])
			if err != nil {
				return err
			}
			t.segments = append(t.segments, tmplSegment{literal: lit.String(), field: f})
			lit.Reset()
			i = end + 1
		default:
			lit.WriteByte(c)
			i++
		}
	}
	if lit.Len() > 0 {
		t.segments = append(t.segments, tmplSegment{literal: lit.String()})
	}
	return nil
}

// parseTmplField parses "{name|name.attr!c:spec}".
func parseTmplField(text string) (*tmplField, error) {
	f := &tmplField{text: text}
	body := text[1 : len(text)-1]
	names, spec := body, ""
	if i := strings.IndexAny(body, "!:"); i >= 0 {
		names = body[:i]
		rest := body[i:]
		if rest[0] == '!' {
			if len(rest) < 2 {
				return nil, tmplError(fmt.Sprintf("field %s: missing conversion after '!'", text))
			}
			f.conv = rest[1]
			if f.conv != 's' && f.conv != 'r' && f.conv != 'a' {
				return nil, tmplError(fmt.Sprintf("field %s: unknown conversion %q (want !s, !r or !a)", text, rest[1:2]))
			}
			rest = rest[2:]
			if rest != "" && rest[0] != ':' {
				return nil, tmplError(fmt.Sprintf("field %s: expected ':' after conversion", text))
			}
		}
		if rest != "" {
			spec = rest[1:]
		}
	}
	if names == "" {
		return nil, tmplError(fmt.Sprintf("field %s: no name (positional fields are not supported)", text))
	}
	for _, n := range strings.Split(names, "|") {
		if !tmplNameRE().MatchString(n) {
			return nil, tmplError(fmt.Sprintf("field %s: bad name %q (want name or element.attribute)", text, n))
		}
		a := tmplAlt{name: n, primary: n}
		if p, attr, ok := strings.Cut(n, "."); ok {
			a.primary, a.attr = p, attr
		}
		f.alts = append(f.alts, a)
	}
	f.optional = strings.Contains(spec, "?")
	f.keepSlash = strings.Contains(spec, "/")
	f.spec = strings.NewReplacer("?", "", "/", "").Replace(spec)
	if _, err := parseFmtSpec(f.spec); err != nil {
		return nil, tmplError(fmt.Sprintf("field %s: %v", text, err))
	}
	return f, nil
}

// names returns the field names the template uses, as daf_butler's FileTemplate.fields does:
// every alternate counts; with optional, optional fields count too; with specials, run, id,
// datasetType and component count; "a.b" counts as "a".
func (t *Template) names(optional, specials bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range t.segments {
		if s.field == nil || (s.field.optional && !optional) {
			continue
		}
		for _, a := range s.field.alts {
			if !specials && isSpecialField(a.name) {
				continue
			}
			out[a.primary] = true
		}
	}
	return out
}

// check is daf_butler's validateTemplate without an entity.
func (t *Template) check() error {
	withSpecials := t.names(true, true)
	if withSpecials["collection"] {
		return tmplError(`"collection" is no longer supported as a tmplField; use "run"`)
	}
	if !withSpecials[tmplRun] && !withSpecials[tmplID] {
		return tmplError(`no "run" or "id" field`)
	}
	if len(t.names(true, false)) == 0 && !withSpecials[tmplID] {
		return tmplError("no field names a dimension")
	}
	if strings.Contains(t.text, "../") {
		return tmplError(`"../" is not allowed`)
	}
	if withSpecials[tmplID] && !strings.Contains(t.text[strings.LastIndexByte(t.text, '/')+1:], "{id}") {
		return tmplError(`"{id}" is used but not in the file name`)
	}
	return nil
}

// Validate checks the template against a dataset type with the given required dimensions
// and, after isComponent, its implied dimensions: every required dimension appears (optional
// or not), every mandatory field is one of the dimensions, a component's template names
// "component", and a non-component's template does not require it. Without impliedDims, a
// mandatory field for an implied dimension (physical_filter for raw) is an error, so pass
// them. If the dataset type has exactly one skypix dimension, pass it as "skypix", as Fields
// does. Errors wrap errs.ErrInvalid.
func (t *Template) Validate(requiredDims []string, isComponent bool, impliedDims ...string) error {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("file template %q: %w: %s", t.text, errs.ErrInvalid, fmt.Sprintf(format, a...))
	}
	withSpecials := t.names(true, true)
	mandatory := t.names(false, true)
	if isComponent && !withSpecials[tmplComponent] {
		return fail(`the dataset type is a component but the template has no "component" field`)
	}
	if !isComponent && mandatory[tmplComponent] {
		return fail(`"component" is mandatory but the dataset type is not a component`)
	}
	dims := map[string]bool{}
	for _, d := range slices.Concat(requiredDims, impliedDims) {
		dims[d] = true
	}
	var outside []string
	for n := range t.names(false, false) {
		if !dims[n] {
			outside = append(outside, n)
		}
	}
	if len(outside) > 0 {
		slices.Sort(outside)
		return fail("mandatory fields %v are not dimensions of the dataset type %v", outside, slices.Concat(requiredDims, impliedDims))
	}
	all := t.names(true, false)
	var missing []string
	for _, d := range requiredDims {
		if !all[d] {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return fail("required dimensions %v are not in the template", missing)
	}
	return nil
}

// tmplSpecialChars are replaced by '_' in string values: they cause trouble in file names.
var tmplSpecialChars = strings.NewReplacer(" ", "_", "<", "_", ">", "_", ":", "_", `"`, "_", `\`, "_", "|", "_", "?", "_", "*", "_")

// Format expands the template for one dataset: the path relative to the datastore root,
// without extension. A missing mandatory field, or a component the template does not use,
// is errs.ErrInvalid.
func (t *Template) Format(f Fields) (string, error) {
	fail := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("file template %q: %w: %s", t.text, errs.ErrInvalid, fmt.Sprintf(format, a...))
	}
	_, isComponent := f.Value(tmplComponent)
	usedComponent := false
	var out strings.Builder
	for _, s := range t.segments {
		fd := s.field
		if fd == nil {
			out.WriteString(s.literal)
			continue
		}
		// The first alternate whose dimension (or special) is in the data ID wins; if none
		// is, the first stands, to be dropped if optional.
		a := fd.alts[0]
		for _, c := range fd.alts {
			if _, ok := f.Value(c.primary); ok {
				a = c
				break
			}
		}
		if a.name == tmplComponent {
			usedComponent = true
		}
		var v any
		var ok bool
		if a.attr == "" {
			v, ok = f.Value(a.name)
		} else if _, has := f.Value(a.primary); has {
			v, ok = f.Record(a.primary, a.attr)
		}
		literal, spec := s.literal, fd.spec
		if !ok {
			if !fd.optional {
				return fail("field %s: %q is not in the data ID%s", fd.text, a.name, tmplRecordHint(a))
			}
			// An absent optional field drops its spec and the text before it, unless that
			// text holds a path separator.
			v, spec = "", ""
			if !strings.Contains(literal, "/") {
				literal = ""
			}
		}
		if str, isStr := v.(string); isStr {
			str = tmplSpecialChars.Replace(str)
			if !fd.keepSlash {
				str = strings.ReplaceAll(str, "/", "_")
			}
			v = str
		}
		if fd.conv != 0 {
			v = pyConvert(v, fd.conv)
		}
		text, err := pyFormat(v, spec)
		if err != nil {
			return fail("field %s: %v", fd.text, err)
		}
		out.WriteString(literal)
		out.WriteString(text)
	}
	p := out.String()
	// Dots and hashes in the file name would read as an extension or a URI fragment.
	i := strings.LastIndexByte(p, '/') + 1
	p = p[:i] + strings.ReplaceAll(strings.ReplaceAll(p[i:], ".", "_"), "#", "HASH")
	if isComponent && !usedComponent {
		return fail("the dataset is a component but the template does not use \"component\"")
	}
	p = strings.TrimLeft(path.Clean(p), "/") // absent optional fields can leave "//" or a leading "/"
	if p == "" || p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return fail("expands to %q, which is not a path inside the datastore", p)
	}
	return p, nil
}

func tmplRecordHint(a tmplAlt) string {
	if a.attr == "" {
		return ""
	}
	return fmt.Sprintf(" (needs the %s record's %s: is the data ID expanded?)", a.primary, a.attr)
}

// pyConvert applies a !s, !r or !a conversion.
func pyConvert(v any, c byte) any {
	switch c {
	case 'r':
		return pyRepr(v, false)
	case 'a':
		return pyRepr(v, true)
	}
	return pyStr(v)
}

func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float32:
		return pyrepr.Float(float64(x))
	case float64:
		return pyrepr.Float(x)
	case fmt.Stringer:
		return x.String()
	}
	if i, ok := pyInt(v); ok {
		return strconv.FormatInt(i, 10)
	}
	return fmt.Sprint(v)
}

func pyRepr(v any, ascii bool) string {
	s, ok := v.(string)
	if !ok {
		return pyStr(v)
	}
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80 || (!ascii && unicode.IsPrint(r)):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

func pyInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// spec is a parsed Python format specification:
// [[fill]align][sign][z][#][0][width][grouping][.precision][type].
type fmtSpec struct {
	fill      rune
	align     byte // 0, '<', '>', '^', '='
	sign      byte // 0, '+', '-', ' '
	z         bool
	alt       bool
	zero      bool
	width     int
	grouping  byte // 0, ',', '_'
	precision int  // -1 when absent
	typ       byte // 0 or the type letter
}

func parseFmtSpec(s string) (fmtSpec, error) {
	sp := fmtSpec{fill: ' ', precision: -1}
	isAlign := func(c byte) bool { return c == '<' || c == '>' || c == '^' || c == '=' }
	fillSet := false
	if r, n := utf8.DecodeRuneInString(s); n > 0 && n < len(s) && isAlign(s[n]) {
		sp.fill, sp.align, fillSet, s = r, s[n], true, s[n+1:]
	} else if s != "" && isAlign(s[0]) {
		sp.align, s = s[0], s[1:]
	}
	if s != "" && (s[0] == '+' || s[0] == '-' || s[0] == ' ') {
		sp.sign, s = s[0], s[1:]
	}
	if s != "" && s[0] == 'z' {
		sp.z, s = true, s[1:]
	}
	if s != "" && s[0] == '#' {
		sp.alt, s = true, s[1:]
	}
	if s != "" && s[0] == '0' && !fillSet {
		// A '0' flag without an explicit fill fills with zeros, whatever the alignment.
		sp.zero, sp.fill, s = true, '0', s[1:]
	}
	digits := func() (int, bool, error) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, false, nil
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n > 1<<20 {
			return 0, false, tmplError("too large a number in format spec")
		}
		s = s[i:]
		return n, true, nil
	}
	var err error
	if sp.width, _, err = digits(); err != nil {
		return sp, err
	}
	if s != "" && (s[0] == ',' || s[0] == '_') {
		sp.grouping, s = s[0], s[1:]
	}
	if s != "" && s[0] == '.' {
		s = s[1:]
		var ok bool
		if sp.precision, ok, err = digits(); err != nil {
			return sp, err
		} else if !ok {
			return sp, tmplError("format spec missing precision")
		}
	}
	if len(s) == 1 && strings.IndexByte("bcdeEfFgGnosxX%", s[0]) >= 0 {
		sp.typ, s = s[0], ""
	}
	if s != "" {
		return sp, tmplError("invalid format spec")
	}
	return sp, nil
}

// pyFormat is Python's format(v, specText) for str, int, bool, float and None values.
func pyFormat(v any, specText string) (string, error) {
	sp, err := parseFmtSpec(specText)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return pyFormatString(x, sp)
	case bool:
		if specText == "" {
			return pyStr(x), nil
		}
		if x {
			return pyFormatInt(1, sp)
		}
		return pyFormatInt(0, sp)
	case float32:
		return pyFormatFloat(float64(x), sp)
	case float64:
		return pyFormatFloat(x, sp)
	}
	if i, ok := pyInt(v); ok {
		return pyFormatInt(i, sp)
	}
	if specText == "" {
		return pyStr(v), nil
	}
	return "", fmt.Errorf("format spec %q for a value of type %T", specText, v)
}

func pyFormatString(s string, sp fmtSpec) (string, error) {
	switch {
	case sp.typ != 0 && sp.typ != 's':
		return "", fmt.Errorf("format code %q for a string", sp.typ)
	case sp.sign != 0:
		return "", tmplError("sign not allowed for a string")
	case sp.alt:
		return "", tmplError("alternate form (#) not allowed for a string")
	case sp.align == '=':
		return "", tmplError("'=' alignment not allowed for a string")
	case sp.grouping != 0:
		return "", fmt.Errorf("cannot use %q with a string", sp.grouping)
	case sp.z:
		return "", tmplError("z not allowed for a string")
	}
	if sp.precision >= 0 && utf8.RuneCountInString(s) > sp.precision {
		r := []rune(s)
		s = string(r[:sp.precision])
	}
	// Since Python 3.10 a '0' flag does not make strings right-aligned.
	return fmtPad("", s, sp, '<'), nil
}

func pyFormatInt(i int64, sp fmtSpec) (string, error) {
	switch sp.typ {
	case 'e', 'E', 'f', 'F', 'g', 'G', '%':
		return pyFormatFloat(float64(i), sp)
	case 's':
		return "", tmplError("format code 's' for an integer")
	}
	switch {
	case sp.precision >= 0:
		return "", tmplError("precision not allowed for an integer")
	case sp.z:
		return "", tmplError("z not allowed for an integer")
	}
	neg := i < 0
	u := uint64(i)
	if neg {
		u = -u
	}
	var digits, prefix string
	group := 3
	switch sp.typ {
	case 0, 'd', 'n':
		digits = strconv.FormatUint(u, 10)
	case 'b':
		digits, prefix, group = strconv.FormatUint(u, 2), "0b", 4
	case 'o':
		digits, prefix, group = strconv.FormatUint(u, 8), "0o", 4
	case 'x':
		digits, prefix, group = strconv.FormatUint(u, 16), "0x", 4
	case 'X':
		digits, prefix, group = strings.ToUpper(strconv.FormatUint(u, 16)), "0X", 4
	case 'c':
		if sp.sign != 0 || sp.alt || sp.grouping != 0 || neg || i > unicode.MaxRune {
			return "", tmplError("bad value or flags for format code 'c'")
		}
		return fmtPad("", string(rune(i)), sp, '>'), nil
	}
	if sp.grouping == ',' && group != 3 || sp.grouping != 0 && sp.typ == 'n' {
		return "", fmt.Errorf("cannot use %q with format code %q", sp.grouping, sp.typ)
	}
	if !sp.alt {
		prefix = ""
	}
	return fmtNumber(neg, prefix, digits, "", sp, group), nil
}

func pyFormatFloat(f float64, sp fmtSpec) (string, error) {
	switch {
	case sp.typ == 's' || sp.typ == 'c' || sp.typ == 'b' || sp.typ == 'o' || sp.typ == 'x' || sp.typ == 'X' || sp.typ == 'd':
		return "", fmt.Errorf("format code %q for a float", sp.typ)
	case sp.alt:
		return "", tmplError("alternate form (#) for a float is not supported")
	case sp.grouping != 0 && sp.typ == 'n':
		return "", fmt.Errorf("cannot use %q with format code 'n'", sp.grouping)
	}
	neg := math.Signbit(f) && !(sp.z && f == 0) && !math.IsNaN(f)
	a := math.Abs(f)
	prec := sp.precision
	var body string
	switch sp.typ {
	case 'f', 'F':
		body = strconv.FormatFloat(a, 'f', precOr(prec, 6), 64)
	case 'e', 'E':
		body = strconv.FormatFloat(a, 'e', precOr(prec, 6), 64)
	case 'g', 'G', 'n':
		body = strconv.FormatFloat(a, 'g', max(precOr(prec, 6), 1), 64)
	case '%':
		body = strconv.FormatFloat(a*100, 'f', precOr(prec, 6), 64) + "%"
	default:
		if prec < 0 {
			body = pyrepr.Float(a)
			break
		}
		// Like 'g', but a whole number in fixed notation gets ".0" when the precision
		// leaves room for it, and exponent notation otherwise.
		p := max(prec, 1)
		body = strconv.FormatFloat(a, 'g', p, 64)
		if !strings.ContainsAny(body, ".e") {
			if len(body) < p {
				body += ".0"
			} else {
				body = trimMantissa(strconv.FormatFloat(a, 'e', p-1, 64))
			}
		}
	}
	switch {
	case math.IsInf(a, 0):
		body = "inf"
	case math.IsNaN(a):
		body = "nan"
	}
	if sp.typ == 'E' || sp.typ == 'F' || sp.typ == 'G' {
		body = strings.ToUpper(body)
	}
	i := 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	if i == 0 { // inf, nan
		return fmtNumber(neg, "", "", body, sp, 3), nil
	}
	return fmtNumber(neg, "", body[:i], body[i:], sp, 3), nil
}

// trimMantissa drops trailing zeros (and a bare point) from the mantissa of "d.ddde+XX".
func trimMantissa(s string) string {
	m, e, _ := strings.Cut(s, "e")
	if strings.Contains(m, ".") {
		m = strings.TrimRight(strings.TrimRight(m, "0"), ".")
	}
	return m + "e" + e
}

// fmtNumber assembles sign, base prefix, integer digits (grouped every n when the spec asks)
// and the rest (fraction, exponent, '%'), then pads. Zero padding with '=' alignment and
// grouping pads with grouped zeros, as Python does ("0,255" for {:05,}).
func fmtNumber(neg bool, prefix, digits, rest string, sp fmtSpec, n int) string {
	sign := ""
	switch {
	case neg:
		sign = "-"
	case sp.sign == '+':
		sign = "+"
	case sp.sign == ' ':
		sign = " "
	}
	if sp.zero && sp.align == 0 {
		sp.align = '='
	}
	if sp.grouping == 0 || digits == "" {
		return fmtPad(sign+prefix, digits+rest, sp, '>')
	}
	grouped := fmtGroup(digits, n, sp.grouping)
	if sp.align == '=' && sp.fill == '0' {
		for utf8.RuneCountInString(sign+prefix+grouped+rest) < sp.width {
			digits = "0" + digits
			grouped = fmtGroup(digits, n, sp.grouping)
		}
	}
	return fmtPad(sign+prefix, grouped+rest, sp, '>')
}

func precOr(p, def int) int {
	if p < 0 {
		return def
	}
	return p
}

func fmtGroup(digits string, n int, sep byte) string {
	if len(digits) <= n {
		return digits
	}
	var b strings.Builder
	first := len(digits) % n
	if first == 0 {
		first = n
	}
	b.WriteString(digits[:first])
	for i := first; i < len(digits); i += n {
		b.WriteByte(sep)
		b.WriteString(digits[i : i+n])
	}
	return b.String()
}

// fmtPad applies width, fill and alignment; with '=' the fill goes between the sign (and base
// prefix) and the digits.
func fmtPad(sign, body string, sp fmtSpec, defAlign byte) string {
	n := sp.width - utf8.RuneCountInString(sign) - utf8.RuneCountInString(body)
	if n <= 0 {
		return sign + body
	}
	fill := func(k int) string { return strings.Repeat(string(sp.fill), k) }
	switch alignOr(sp.align, defAlign) {
	case '<':
		return sign + body + fill(n)
	case '^':
		return fill(n/2) + sign + body + fill(n-n/2)
	case '=':
		return sign + fill(n) + body
	}
	return fill(n) + sign + body
}

func alignOr(a, def byte) byte {
	if a == 0 {
		return def
	}
	return a
}

type tmplError string

func (e tmplError) Error() string { return string(e) }
