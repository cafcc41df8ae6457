package fits

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/google/go-cmp/cmp"
)

func TestAppendCard_Format(t *testing.T) {
	tests := []struct {
		name string
		in   Card
		want []string // card images, right-trimmed
	}{
		{"int", IntCard("NAXIS", 2, ""), []string{"NAXIS   =                    2"}},
		{"negative int with comment", IntCard("DTV1", -10, "offset"), []string{"DTV1    =                  -10 / offset"}},
		{"float keeps a point", FloatCard("EXPTIME", 15, ""), []string{"EXPTIME =                 15.0"}},
		{"float exponent", FloatCard("TINY", 1.5e-300, ""), []string{"TINY    =             1.5E-300"}},
		{"large float in plain decimals", FloatCard("OBSGEO-Y", -5208470.95, ""), []string{"OBSGEO-Y=          -5208470.95"}},
		{"huge float", FloatCard("BIG", 1e20, ""), []string{"BIG     =                1E+20"}},
		{"zero float", FloatCard("Z", 0, ""), []string{"Z       =                  0.0"}},
		{"float full precision", FloatCard("MJD", 60781.03696264839, ""), []string{"MJD     =    60781.03696264839"}},
		{"bool", BoolCard("EXTEND", true, ""), []string{"EXTEND  =                    T"}},
		{"false", BoolCard("ZIMAGE", false, ""), []string{"ZIMAGE  =                    F"}},
		{"short string padded to 8", StringCard("CCDSLOT", "S01", "The CCD Slot"), []string{"CCDSLOT = 'S01     '           / The CCD Slot"}},
		{"quote escaped", StringCard("OBJECT", "it's", ""), []string{"OBJECT  = 'it''s   '"}},
		{"empty string", StringCard("OBSANNOT", "", ""), []string{"OBSANNOT= '        '"}},
		{"undefined", UndefinedCard("SEEING", "not measured"), []string{"SEEING  =                      / not measured"}},
		{"lower case key folded", IntCard("seqnum", 60, ""), []string{"SEQNUM  =                   60"}},
		{"hierarch", IntCard("STUTTER ROWS", 0, ""), []string{"HIERARCH STUTTER ROWS = 0"}},
		{"hierarch long key", IntCard("SIMULATE MTDOMETRAJECTORY", 0, "x"), []string{"HIERARCH SIMULATE MTDOMETRAJECTORY = 0 / x"}},
		{"comment", CommentCard("---- Checksums ----"), []string{"COMMENT ---- Checksums ----"}},
		{"long comment split", CommentCard(strings.Repeat("a", 100)), []string{"COMMENT " + strings.Repeat("a", 72), "COMMENT " + strings.Repeat("a", 28)}},
		{"comment shortened", StringCard("K", strings.Repeat("v", 60), strings.Repeat("c", 20)),
			[]string{"K       = '" + strings.Repeat("v", 60) + "' / " + strings.Repeat("c", 5)}},
		{"long string", StringCard("LONG", strings.Repeat("x", 70)+"''"[:1]+strings.Repeat("y", 70), "end"), []string{
			"LONG    = '" + strings.Repeat("x", 67) + "&'",
			"CONTINUE  'xxx''" + strings.Repeat("y", 62) + "&'",
			"CONTINUE  'yyyyyyyy'           / end",
		}},
		{"long string never splits a quote pair", StringCard("Q", strings.Repeat("x", 66)+"'"+strings.Repeat("y", 10), ""), []string{
			"Q       = '" + strings.Repeat("x", 66) + "&'",
			"CONTINUE  '''" + strings.Repeat("y", 10) + "'",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendCard(nil, tt.in)
			if err != nil {
				t.Fatalf("AppendCard(%+v): %v", tt.in, err)
			}
			if len(b)%CardSize != 0 {
				t.Fatalf("AppendCard wrote %d bytes, not whole cards", len(b))
			}
			var got []string
			for i := 0; i < len(b); i += CardSize {
				got = append(got, strings.TrimRight(string(b[i:i+CardSize]), " "))
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("AppendCard(%+v) differs (-want +got):\n%s", tt.in, d)
			}
		})
	}
}

func TestWriter_RoundTrip(t *testing.T) {
	long := "a long 'quoted' string & more: " + strings.Repeat("0123456789", 25)
	primary := &Header{}
	primary.Add(
		BoolCard("SIMPLE", true, "conforms to FITS"),
		IntCard("BITPIX", 8, ""),
		IntCard("NAXIS", 0, ""),
		BoolCard("EXTEND", true, ""),
		StringCard("OBSID", "MC_O_20250415_000060", "The image name or obs-id"),
		StringCard("DAYOBS", "20250415", ""),
		IntCard("SEQNUM", 60, ""),
		FloatCard("EXPTIME", 15, ""),
		FloatCard("MJD-OBS", 60781.03696264839, ""),
		FloatCard("NEG", -1.25e-7, ""),
		FloatCard("HUGE", math.MaxFloat64, ""),
		UndefinedCard("SEEING", ""),
		StringCard("LONGSTR", long, "a comment on the last card"),
		StringCard("ENDSAMP", "x&", ""),
		IntCard("STUTTER NSHIFTS", 3, ""),
		StringCard("HIERARCH LONG STRING KEY", long, ""),
		CommentCard(strings.Repeat("c", 150)),
		HistoryCard("made by a test"),
	)
	image := &Header{}
	image.Add(
		StringCard("XTENSION", "IMAGE", ""),
		IntCard("BITPIX", 32, ""),
		IntCard("NAXIS", 2, ""),
		IntCard("NAXIS1", 3, ""),
		IntCard("NAXIS2", 5, ""),
		IntCard("PCOUNT", 0, ""),
		IntCard("GCOUNT", 1, ""),
		StringCard("EXTNAME", "Segment10", ""),
	)
	data := make([]byte, 3*5*4)
	for i := range data {
		data[i] = byte(i)
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteHDU(primary, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHDU(image, data); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%BlockSize != 0 {
		t.Fatalf("file is %d bytes, not whole blocks", buf.Len())
	}
	if !bytes.Contains(buf.Bytes(), data) {
		t.Error("data unit not written verbatim")
	}
	hdrs, err := read(buf.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hdrs) != 2 {
		t.Fatalf("read back %d HDUs, want 2", len(hdrs))
	}
	want := map[string]any{
		"SIMPLE": true, "BITPIX": int64(8), "NAXIS": int64(0), "EXTEND": true,
		"OBSID": "MC_O_20250415_000060", "DAYOBS": "20250415", "SEQNUM": int64(60), "EXPTIME": 15.0,
		"MJD-OBS": 60781.03696264839, "NEG": -1.25e-7, "HUGE": math.MaxFloat64, "SEEING": nil,
		"LONGSTR": long, "ENDSAMP": "x&", "STUTTER NSHIFTS": int64(3), "HIERARCH LONG STRING KEY": long,
	}
	if d := cmp.Diff(want, hdrs[0].Map()); d != "" {
		t.Errorf("primary read back differs (-want +got):\n%s", d)
	}
	var comment string
	for _, c := range hdrs[0].Cards {
		if c.Key == "COMMENT" {
			comment += c.Comment
		}
		if c.Key == "LONGSTR" && c.Comment != "a comment on the last card" {
			t.Errorf("LONGSTR comment = %q", c.Comment)
		}
	}
	if comment != strings.Repeat("c", 150) {
		t.Errorf("COMMENT text read back as %q", comment)
	}
	if d := cmp.Diff(image.Map(), hdrs[1].Map()); d != "" {
		t.Errorf("image header read back differs (-want +got):\n%s", d)
	}
}

func TestWriter_Errors(t *testing.T) {
	simple := Header{Cards: []Card{BoolCard("SIMPLE", true, ""), IntCard("BITPIX", 8, ""), IntCard("NAXIS", 0, "")}}
	withCard := func(c Card) *Header {
		h := &Header{Cards: append(simple.Cards[:3:3], c)}
		return h
	}
	tests := []struct {
		name    string
		hdrs    []*Header
		data    []byte
		wantErr string
	}{
		{"empty header", []*Header{{}}, nil, "empty header"},
		{"primary not SIMPLE", []*Header{{Cards: []Card{StringCard("XTENSION", "IMAGE", "")}}}, nil, "want SIMPLE = T"},
		{"SIMPLE = F", []*Header{{Cards: []Card{BoolCard("SIMPLE", false, "")}}}, nil, "want SIMPLE = T"},
		{"extension not XTENSION", []*Header{&simple, &simple}, nil, "want XTENSION"},
		{"data size mismatch", []*Header{&simple}, []byte{1}, "header describes 0 data bytes, got 1"},
		{"no BITPIX", []*Header{{Cards: []Card{BoolCard("SIMPLE", true, "")}}}, nil, "BITPIX"},
		{"NaN", []*Header{withCard(FloatCard("X", math.NaN(), ""))}, nil, "NaN"},
		{"value type", []*Header{withCard(Card{Key: "X", Value: []int{1}})}, nil, "type []int"},
		{"END card", []*Header{withCard(Card{Key: "END"})}, nil, "written by the writer"},
		{"non-ASCII value", []*Header{withCard(StringCard("X", "café", ""))}, nil, "not printable"},
		{"comment with value", []*Header{withCard(Card{Key: "COMMENT", Value: int64(1)})}, nil, "with a value"},
		{"key with =", []*Header{withCard(IntCard("A=B", 1, ""))}, nil, "even as HIERARCH"},
		{"too long number card", []*Header{withCard(IntCard("HIERARCH "+strings.Repeat("K", 70), 123456789, ""))}, nil, "more than 80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(&bytes.Buffer{})
			var err error
			for i, h := range tt.hdrs {
				var data []byte
				if i == len(tt.hdrs)-1 {
					data = tt.data
				}
				if err = w.WriteHDU(h, data); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("WriteHDU error = %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
}

func TestHeader_Accessors(t *testing.T) {
	h := &Header{Cards: []Card{
		{Key: "SIMPLE", Value: true},
		{Key: "N", Value: int64(3)},
		{Key: "F", Value: 2.0},
		{Key: "FRAC", Value: 2.5},
		{Key: "S", Value: "text"},
		{Key: "U"},
		{Key: "COMMENT", Comment: "c"},
		{Key: "N", Value: int64(4)},
	}}
	if v, ok := h.Get("N"); !ok || v != int64(4) {
		t.Errorf("Get(N) = %v, %v; want the last card, 4", v, ok)
	}
	if v, ok := h.Int("F"); !ok || v != 2 {
		t.Errorf("Int(F) = %v, %v; want 2 (integral float)", v, ok)
	}
	if _, ok := h.Int("FRAC"); ok {
		t.Error("Int(FRAC) ok, want false for 2.5")
	}
	if v, ok := h.Float("N"); !ok || v != 4 {
		t.Errorf("Float(N) = %v, %v; want 4", v, ok)
	}
	if v, ok := h.String("S"); !ok || v != "text" {
		t.Errorf("String(S) = %v, %v", v, ok)
	}
	if _, ok := h.String("N"); ok {
		t.Error("String(N) ok, want false")
	}
	if v, ok := h.Bool("SIMPLE"); !ok || !v {
		t.Errorf("Bool(SIMPLE) = %v, %v", v, ok)
	}
	if v, ok := h.Get("U"); !ok || v != nil {
		t.Errorf("Get(U) = %v, %v; want nil, true", v, ok)
	}
	if h.Has("U") || !h.Has("S") || h.Has("MISSING") {
		t.Error("Has wrong for undefined, defined or missing keys")
	}
	if _, ok := h.Get("MISSING"); ok {
		t.Error("Get(MISSING) ok")
	}
	h.Set("s", "new", "c")
	h.Set("NEWKEY", int64(1), "")
	if v, _ := h.String("S"); v != "new" || len(h.Cards) != 9 {
		t.Errorf("after Set: S = %q, %d cards; want new, 9", v, len(h.Cards))
	}
	want := map[string]any{"SIMPLE": true, "N": int64(4), "F": 2.0, "FRAC": 2.5, "S": "new", "U": nil, "NEWKEY": int64(1)}
	if d := cmp.Diff(want, h.Map()); d != "" {
		t.Errorf("Map() differs (-want +got):\n%s", d)
	}
}

func TestHeader_DataSize(t *testing.T) {
	tests := []struct {
		name    string
		cards   map[string]any
		want    int64
		wantErr string
	}{
		{"no data", map[string]any{"BITPIX": int64(8), "NAXIS": int64(0)}, 0, ""},
		{"image", map[string]any{"BITPIX": int64(32), "NAXIS": int64(2), "NAXIS1": int64(576), "NAXIS2": int64(2048)}, 4718592, ""},
		{"float image", map[string]any{"BITPIX": int64(-64), "NAXIS": int64(1), "NAXIS1": int64(10)}, 80, ""},
		{"compressed table with heap", map[string]any{"BITPIX": int64(8), "NAXIS": int64(2), "NAXIS1": int64(8), "NAXIS2": int64(2048),
			"PCOUNT": int64(1107906), "GCOUNT": int64(1)}, 8*2048 + 1107906, ""},
		{"random groups", map[string]any{"BITPIX": int64(16), "NAXIS": int64(3), "NAXIS1": int64(0), "NAXIS2": int64(4),
			"NAXIS3": int64(5), "GROUPS": true, "PCOUNT": int64(2), "GCOUNT": int64(10)}, 2 * 10 * (2 + 20), ""},
		{"zero axis", map[string]any{"BITPIX": int64(8), "NAXIS": int64(2), "NAXIS1": int64(0), "NAXIS2": int64(5)}, 0, ""},
		{"float NAXIS1", map[string]any{"BITPIX": int64(8), "NAXIS": int64(1), "NAXIS1": 7.0}, 7, ""},
		{"missing BITPIX", map[string]any{"NAXIS": int64(0)}, 0, "BITPIX"},
		{"missing NAXISn", map[string]any{"BITPIX": int64(8), "NAXIS": int64(2), "NAXIS1": int64(3)}, 0, "NAXIS2 = <nil>"},
		{"NAXIS too big", map[string]any{"BITPIX": int64(8), "NAXIS": int64(1000)}, 0, "NAXIS = 1000"},
		{"string PCOUNT", map[string]any{"BITPIX": int64(8), "NAXIS": int64(0), "PCOUNT": "x"}, 0, "PCOUNT"},
		{"negative GCOUNT", map[string]any{"BITPIX": int64(8), "NAXIS": int64(0), "GCOUNT": int64(-1)}, 0, "GCOUNT"},
		{"overflow", map[string]any{"BITPIX": int64(64), "NAXIS": int64(3), "NAXIS1": int64(1 << 30),
			"NAXIS2": int64(1 << 30), "NAXIS3": int64(1 << 30)}, 0, "overflows"},
		{"PCOUNT overflow", map[string]any{"BITPIX": int64(64), "NAXIS": int64(0), "PCOUNT": int64(1 << 62)}, 0, "overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Header{}
			for k, v := range tt.cards {
				h.Add(Card{Key: k, Value: v})
			}
			got, err := h.DataSize()
			switch {
			case err != nil && tt.wantErr == "":
				t.Fatalf("DataSize: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("DataSize error = %v, want one containing %q", err, tt.wantErr)
			case err == nil && got != tt.want:
				t.Errorf("DataSize = %d, want %d", got, tt.want)
			}
		})
	}
}
