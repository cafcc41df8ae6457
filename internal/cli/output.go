package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// table is rows of cells under named columns, rendered as an aligned text table
// (like astropy's pprint), JSON, YAML or CSV.
type table struct {
	title string
	cols  []string
	rows  [][]string
	raw   []map[string]any // typed values for json/yaml; nil: use the strings
}

func addFormatFlag(cmd *cobra.Command, f *string) {
	cmd.Flags().StringVar(f, "format", "table", "output format: table, json, yaml or csv")
}

func checkFormat(f string) error {
	switch f {
	case "table", "json", "yaml", "csv":
		return nil
	}
	return usagef("--format %q: want table, json, yaml or csv", f)
}

func (t *table) add(typed map[string]any, cells ...string) {
	t.rows = append(t.rows, cells)
	if typed != nil {
		t.raw = append(t.raw, typed)
	}
}

func (t *table) records() []map[string]any {
	if len(t.raw) == len(t.rows) && len(t.raw) > 0 {
		return t.raw
	}
	out := make([]map[string]any, len(t.rows))
	for i, r := range t.rows {
		m := map[string]any{}
		for j, c := range t.cols {
			if j < len(r) {
				m[c] = r[j]
			}
		}
		out[i] = m
	}
	return out
}

func render(w io.Writer, format string, tables ...*table) error {
	switch format {
	case "json":
		var all any
		if len(tables) == 1 {
			all = orEmpty(tables[0].records())
		} else {
			m := []map[string]any{}
			for _, t := range tables {
				m = append(m, map[string]any{"name": t.title, "rows": orEmpty(t.records())})
			}
			all = m
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	case "yaml":
		var all any
		if len(tables) == 1 {
			all = orEmpty(tables[0].records())
		} else {
			m := []map[string]any{}
			for _, t := range tables {
				m = append(m, map[string]any{"name": t.title, "rows": orEmpty(t.records())})
			}
			all = m
		}
		return yaml.NewEncoder(w).Encode(all)
	case "csv":
		cw := csv.NewWriter(w)
		for i, t := range tables {
			if i > 0 {
				cw.Write(nil)
			}
			cw.Write(t.cols)
			for _, r := range t.rows {
				cw.Write(r)
			}
		}
		cw.Flush()
		return cw.Error()
	}
	for i, t := range tables {
		if i > 0 || len(tables) > 1 {
			fmt.Fprintln(w)
		}
		writeText(w, t)
	}
	return nil
}

func orEmpty(m []map[string]any) []map[string]any {
	if m == nil {
		return []map[string]any{}
	}
	return m
}

// writeText prints an astropy-style table: header, dashes, left-aligned... we
// right-align numbers as astropy does.
func writeText(w io.Writer, t *table) {
	width := make([]int, len(t.cols))
	for i, c := range t.cols {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, r := range t.rows {
		for i := range t.cols {
			if i >= len(r) {
				continue
			}
			for _, part := range strings.Split(r[i], "\n") {
				width[i] = max(width[i], utf8.RuneCountInString(part))
			}
		}
	}
	line := func(cells []string, dashes bool) {
		parts := make([]string, len(t.cols))
		for i := range t.cols {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			if dashes {
				c = strings.Repeat("-", width[i])
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if isNumber(c) {
				parts[i] = pad + c
			} else {
				parts[i] = c + pad
			}
		}
		fmt.Fprintln(w, strings.TrimRight(strings.Join(parts, " "), " "))
	}
	line(t.cols, false)
	line(nil, true)
	for _, r := range t.rows {
		// A cell with several lines (a chain's children) continues on rows of
		// its own, the other cells blank, as upstream prints them.
		split := make([][]string, len(r))
		n := 1
		for i, c := range r {
			split[i] = strings.Split(c, "\n")
			n = max(n, len(split[i]))
		}
		for k := 0; k < n; k++ {
			cells := make([]string, len(r))
			for i := range r {
				if k < len(split[i]) {
					cells[i] = split[i][k]
				}
			}
			line(cells, false)
		}
	}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if (r < '0' || r > '9') && r != '.' && !(i == 0 && r == '-') && r != 'e' {
			return false
		}
	}
	return true
}

// splitList splits repeatable comma-separated option values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

// renderValue prints one value as JSON or YAML (csv/table fall back to YAML).
func renderValue(w io.Writer, format string, v any) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return yaml.NewEncoder(w).Encode(v)
}

// Streaming writers for large listings: each row is appended to one reused
// buffer, with no per-cell strings or fmt calls. The output is byte for byte
// what encoding/csv and encoding/json write.

// appendCSVRecord appends fields as one CSV record, as csv.Writer.Write does
// with the default settings (comma, "\n" line ends).
func appendCSVRecord(b []byte, fields ...string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, f)
	}
	return append(b, '\n')
}

// appendCSVField appends one field, quoted only when csv.Writer would quote it.
func appendCSVField(b []byte, f string) []byte {
	if !csvNeedsQuotes(f) {
		return append(b, f...)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, f[i])
	}
	return append(b, '"')
}

// csvNeedsQuotes follows encoding/csv's fieldNeedsQuotes for a comma separator.
func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` {
		return true
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

// appendCSVValue appends a data ID value as str renders it.
func appendCSVValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case string:
		return appendCSVField(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	}
	return appendCSVField(b, str(v))
}

// appendUUID appends the canonical 8-4-4-4-12 lower-case form of a UUID.
func appendUUID(b []byte, id [16]byte) []byte {
	const hexDigits = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendJSONString appends s as encoding/json writes a string: HTML-safe
// (<, > and & escaped), U+2028 and U+2029 escaped, invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONValue appends a data ID value as json.Marshal writes it.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}
