package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

// The streaming writers must write exactly what encoding/csv and
// encoding/json write, for every odd string.
var oddStrings = []string{
	"", "plain", "with space", " leading space", "\tleading tab", "trailing ", "comma,inside",
	`quote"inside`, "new\nline", "cr\rreturn", `\.`, `\`, "<html>&amp;", "\u2028\u2029", "é ü ☃ 🙂",
	"\x00\x01\x1f\x7f", "bad \xff utf8", "\b\f", "\u00a0nbsp first", "\u0085next line first",
}

func TestAppendCSVRecord_MatchesEncodingCSV(t *testing.T) {
	for _, a := range oddStrings {
		for _, b := range []string{"x", "", a} {
			var want bytes.Buffer
			cw := csv.NewWriter(&want)
			if err := cw.Write([]string{a, b}); err != nil {
				t.Fatal(err)
			}
			cw.Flush()
			if got := appendCSVRecord(nil, a, b); string(got) != want.String() {
				t.Errorf("appendCSVRecord(%q, %q) = %q, want %q", a, b, got, want.String())
			}
		}
	}
	if got := appendCSVValue(nil, int64(-2025041500001)); string(got) != "-2025041500001" {
		t.Errorf("appendCSVValue(int64) = %q", got)
	}
	if got := appendCSVValue(nil, 1.5); string(got) != str(1.5) {
		t.Errorf("appendCSVValue(1.5) = %q, want %q", got, str(1.5))
	}
}

func TestAppendJSONValue_MatchesEncodingJSON(t *testing.T) {
	values := []any{nil, true, int64(-7), 42, 1.5, 1e-7, []string{"a"}}
	for _, s := range oddStrings {
		values = append(values, s)
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSONValue([]byte("prefix"), v)
		if err != nil || string(got) != "prefix"+string(want) {
			t.Errorf("appendJSONValue(%#v) = %q, %v; want %q", v, got, err, "prefix"+string(want))
		}
	}
}

func TestAppendUUID(t *testing.T) {
	for range 100 {
		id := uuid.New()
		if got := appendUUID(nil, id); string(got) != id.String() {
			t.Errorf("appendUUID = %s, want %s", got, id)
		}
	}
}
