package fits

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"github.com/gobutler/butler/internal/testutil/corpustest"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/google/go-cmp/cmp"
)

// corpusDir finds the shared corpus: $BUTLER_TEST_CORPUS, else ../shared/corpus
// beside the module root. It skips the test when there is none.
func corpusDir(t testing.TB) string {
	return corpustest.Dir(t)
}

// countingReaderAt counts the bytes asked of ReadAt.
type countingReaderAt struct {
	r     io.ReaderAt
	bytes atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

func readFile(t testing.TB, path string, maxHDU int) ([]*Header, int64, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReaderAt{r: f}
	hdrs, err := ReadHeaders(cr, st.Size(), maxHDU)
	if err != nil {
		t.Fatalf("ReadHeaders(%s): %v", path, err)
	}
	return hdrs, cr.bytes.Load(), st.Size()
}

var ampNames = []string{
	"Segment10", "Segment11", "Segment12", "Segment13", "Segment14", "Segment15", "Segment16", "Segment17",
	"Segment07", "Segment06", "Segment05", "Segment04", "Segment03", "Segment02", "Segment01", "Segment00",
}

func TestReadHeaders_Corpus(t *testing.T) {
	corpus := corpusDir(t)
	tests := []struct {
		path    string
		hdus    int
		gzipped bool
		tail    []any // EXTNAME of the HDUs after the 16 amplifiers
		primary map[string]any
	}{
		{
			path: "lsstCam/raw/2019-03-19/3019031900001/3019031900001-R10-S02-det029.fits", hdus: 19, gzipped: true,
			tail: []any{nil, nil},
			primary: map[string]any{"OBSID": "MC_C_20190319_000001", "DATE-OBS": "2019-03-19T15:50:28.145",
				"EXPTIME": 0.0, "RAFTBAY": "R10", "CCDSLOT": "S02", "INSTRUME": "lsstCam", "SEQNUM": int64(1), "IMGTYPE": "BIAS"},
		},
		{
			path: "lsstCam/raw/2019-03-19/3019031900001/3019031900001-R22-S21-det097.fits", hdus: 19, gzipped: true,
			tail:    []any{nil, nil},
			primary: map[string]any{"OBSID": "MC_C_20190319_000001", "RAFTBAY": "R22", "CCDSLOT": "S21"},
		},
		{
			path: "lsstCam/raw/2019-03-22/3019032200002/3019032200002-R10-S22-det035.fits", hdus: 19, gzipped: true,
			tail: []any{nil, nil},
			primary: map[string]any{"OBSID": "MC_C_20190322_000002", "DATE-OBS": "2019-03-22T15:31:01.904",
				"EXPTIME": 1.0, "FILTER": "SDSSi", "FILTER2": "ND_OD0.5", "CCDSLOT": "S22"},
		},
		{
			path: "lsstCam/raw/2021-12-12/30211212000310/30211212000310-R22-S22-det098.fits", hdus: 19, gzipped: true,
			tail: []any{"REB_COND", "CONFIG_COND"},
			primary: map[string]any{"OBSID": "MC_C_20211212_000310", "DATE-OBS": "2021-12-13T04:58:56.398",
				"EXPTIME": 7.83172, "RAFTBAY": "R22", "CCDSLOT": "S22", "FILTER2": "empty", "DAYOBS": "20211212"},
		},
		{
			path: "latiss/raw/2018-09-20/3018092000065-det000.fits", hdus: 19, gzipped: true,
			tail: []any{nil, nil},
			primary: map[string]any{"OBSID": "AT_C_20180920_000065", "DATE-OBS": "2018-09-21T06:12:18.210",
				"EXPTIME": 27.0, "INSTRUME": "LSST_ATISS"},
		},
		{
			path: "comCam/raw/2019-05-30/3019053000001/3019053000001-R22-S00-det000.fits", hdus: 19, gzipped: true,
			tail: []any{nil, nil},
			primary: map[string]any{"OBSID": "CC_C_20190530_000001", "DATE-OBS": "2019-05-31T02:38:37.384",
				"RAFTBAY": "R22", "CCDSLOT": "S00", "INSTRUME": "COMCAM"},
		},
		{
			path: "lsstCamSim/raw/2024-03-21/7024032100720/7024032100720-R22-S11-det094.fits.fz", hdus: 17,
			primary: map[string]any{"OBSID": "MC_S_20240321_000720", "DATE-OBS": "2024-03-21T17:54:19.147",
				"EXPTIME": 30.0, "FILTER": "r_57", "RAFTBAY": "R22", "CCDSLOT": "S11", "IMGTYPE": "SKYEXP"},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(corpus, "raws", tt.path)
			hdrs, read, size := readFile(t, path, 0)
			if len(hdrs) != tt.hdus {
				t.Fatalf("got %d HDUs, want %d", len(hdrs), tt.hdus)
			}
			for key, want := range tt.primary {
				if got, ok := hdrs[0].Get(key); !ok || got != want {
					t.Errorf("primary %s = %#v (found %v), want %#v", key, got, ok, want)
				}
			}
			var names []any
			for _, h := range hdrs[1:] {
				v, _ := h.Get("EXTNAME")
				names = append(names, v)
			}
			want := append(toAny(ampNames), tt.tail...)
			if d := cmp.Diff(want, names); d != "" {
				t.Errorf("EXTNAMEs differ (-want +got):\n%s", d)
			}
			for i, h := range hdrs[1:17] {
				if !h.IsCompressedImage() {
					if n, _ := h.Int("NAXIS1"); n != 576 {
						t.Errorf("HDU %d NAXIS1 = %d, want 576", i+1, n)
					}
					continue
				}
				if n, _ := h.Int("ZNAXIS1"); n != 576 {
					t.Errorf("HDU %d ZNAXIS1 = %d, want 576", i+1, n)
				}
			}
			if !tt.gzipped {
				// Reads must fit in what is not data: file size minus padded data units.
				var data int64
				for _, h := range hdrs {
					n, err := h.DataSize()
					if err != nil {
						t.Fatal(err)
					}
					data += padded(n)
				}
				if read > size-data+2 { // +2: the gzip magic probe
					t.Errorf("read %d bytes of a %d-byte file with %d data bytes", read, size, data)
				}
			}
			// maxHDU stops early and gives the same primary.
			first, _, _ := readFile(t, path, 1)
			if len(first) != 1 || !cmp.Equal(first[0].Map(), hdrs[0].Map()) {
				t.Errorf("maxHDU=1 gave %d headers or a different primary", len(first))
			}
		})
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestReadHeaders_CorpusEmptyFile(t *testing.T) {
	path := filepath.Join(corpusDir(t), "raws", "guider", "raw", "MC_C_20240918_000013_R42_S11.fits")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = ReadHeaders(f, 0, 0)
	if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "empty file") {
		t.Fatalf("ReadHeaders(empty) error = %v, want ErrInvalid \"empty file\"", err)
	}
}

// card pads s to one 80-byte card image.
func card(s string) string {
	return fmt.Sprintf("%-80s", s)
}

// hdu joins card images, adds END and pads the header; data is appended padded
// with zeros (or not padded when pad is false).
func hdu(cards []string, data []byte, pad bool) []byte {
	var b bytes.Buffer
	for _, c := range cards {
		b.WriteString(card(c))
	}
	b.WriteString(card("END"))
	for b.Len()%BlockSize != 0 {
		b.WriteByte(' ')
	}
	b.Write(data)
	if pad {
		for b.Len()%BlockSize != 0 {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

var (
	primaryCards = []string{
		"SIMPLE  =                    T / conforms",
		"BITPIX  =                    8",
		"NAXIS   =                    0",
		"EXTEND  =                    T",
	}
	imageCards = []string{
		"XTENSION= 'IMAGE   '           / image extension",
		"BITPIX  =                   16",
		"NAXIS   =                    2",
		"NAXIS1  =                    3",
		"NAXIS2  =                    2",
		"PCOUNT  =                    0",
		"GCOUNT  =                    1",
		"EXTNAME = 'AMP'",
	}
)

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func read(b []byte, maxHDU int) ([]*Header, error) {
	return ReadHeaders(bytes.NewReader(b), int64(len(b)), maxHDU)
}

func TestReadHeaders_Cards(t *testing.T) {
	file := hdu(append(primaryCards[:4:4],
		"OBSID   = 'MC_O_20250415_000060' / The image name",
		"QUOTED  = 'it''s ''here'''",
		"LEADING = '  lead  '",
		"EMPTY   = ''",
		"BLANK   = '        '",
		"TRUE    =                    T",
		"FALSE   = F",
		"INT     =                  -42 / signed",
		"BIG     = 123456789012345678901234",
		"FLOAT   =                  1.5",
		"DEXP    =              1.25D+2",
		"EEXP    =               -3E-02",
		"CPLX    = (1.5, -2.0)",
		"UNDEF   =",
		"UNDEFC  =                      / only a comment",
		"lower   = 'folded'",
		"HIERARCH STUTTER ROWS = 0",
		"HIERARCH  SIMULATE   MTMOUNT=   T / spaced",
		"HIERARCH ESO DET = 'a=b' / value with =",
		"COMMENT   some text / not a comment separator",
		"HISTORY made by hand",
		"          blank-keyword text",
		"NOVALUE   this card has no value indicator",
		"LONG    = 'first part &'",
		"CONTINUE  'second ''part&' / comment one",
		"CONTINUE  ' and the end' / comment two",
		"AMP     = 'ends with &'",
		"NEXT    = 1",
		"DUP     = 1",
		"DUP     = 2",
		"CONTINUE  'orphan'",
		"DATE-OBS= '2025-04-16T00:53:13.573'",
	), nil, true)
	for _, tt := range []struct {
		name string
		b    []byte
	}{{"plain", file}, {"gzip", gzipped(t, file)}} {
		t.Run(tt.name, func(t *testing.T) {
			hdrs, err := read(tt.b, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(hdrs) != 1 {
				t.Fatalf("got %d headers, want 1", len(hdrs))
			}
			h := hdrs[0]
			want := map[string]any{
				"SIMPLE": true, "BITPIX": int64(8), "NAXIS": int64(0), "EXTEND": true,
				"OBSID": "MC_O_20250415_000060", "QUOTED": "it's 'here'", "LEADING": "  lead", "EMPTY": "", "BLANK": "",
				"TRUE": true, "FALSE": false, "INT": int64(-42), "BIG": 123456789012345678901234.0,
				"FLOAT": 1.5, "DEXP": 125.0, "EEXP": -0.03, "CPLX": "(1.5, -2.0)",
				"UNDEF": nil, "UNDEFC": nil, "LOWER": "folded",
				"STUTTER ROWS": int64(0), "SIMULATE MTMOUNT": true, "ESO DET": "a=b",
				"NOVALUE":  nil,
				"LONG":     "first part second 'part and the end",
				"AMP":      "ends with &",
				"NEXT":     int64(1),
				"DUP":      int64(2),
				"CONTINUE": nil,
				"DATE-OBS": "2025-04-16T00:53:13.573",
			}
			if d := cmp.Diff(want, h.Map()); d != "" {
				t.Errorf("Map() differs (-want +got):\n%s", d)
			}
			comments := map[string]string{}
			for _, c := range h.Cards {
				if c.Comment != "" {
					comments[c.Key] += c.Comment + "|"
				}
			}
			wantComments := map[string]string{
				"SIMPLE": "conforms|", "OBSID": "The image name|", "INT": "signed|", "UNDEFC": "only a comment|",
				"SIMULATE MTMOUNT": "spaced|", "ESO DET": "value with =|",
				"COMMENT": "  some text / not a comment separator|", "HISTORY": "made by hand|",
				"": "  blank-keyword text|", "NOVALUE": "  this card has no value indicator|",
				"LONG": "comment one comment two|", "CONTINUE": "  'orphan'|",
			}
			if d := cmp.Diff(wantComments, comments); d != "" {
				t.Errorf("comments differ (-want +got):\n%s", d)
			}
			if _, ok := h.Get("COMMENT"); ok {
				t.Error("Get(COMMENT) found a card, want none")
			}
			if v, ok := h.Get("obsid"); !ok || v != "MC_O_20250415_000060" {
				t.Errorf("Get(obsid) = %v, %v; want case-insensitive match", v, ok)
			}
		})
	}
}

func TestReadHeaders_Extensions(t *testing.T) {
	data := []byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6}
	table := []string{
		"XTENSION= 'BINTABLE'",
		"BITPIX  =                    8",
		"NAXIS   =                    2",
		"NAXIS1  =                    8",
		"NAXIS2  =                    3",
		"PCOUNT  =                 3000",
		"GCOUNT  =                    1",
		"TFIELDS =                    1",
		"ZIMAGE  =                    T",
		"EXTNAME = 'Segment10'",
	}
	heap := make([]byte, 8*3+3000) // table + heap: spans two blocks
	heap[len(heap)-1] = 'X'        // must be skipped, never parsed
	file := concat(hdu(primaryCards, nil, true), hdu(imageCards, data, true), hdu(table, heap, true),
		hdu(imageCards, data, false)) // the last data unit lacks its padding
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"plain", file},
		{"gzip", gzipped(t, file)},
		{"special records after the last HDU", concat(file, make([]byte, 2*BlockSize-len(file)%BlockSize), []byte(card("JUNK")))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdrs, err := read(tt.b, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hdrs {
				x, _ := h.String("XTENSION")
				e, _ := h.String("EXTNAME")
				got = append(got, fmt.Sprintf("%s/%s@%d", x, e, h.Offset))
			}
			want := []string{"/@0", "IMAGE/AMP@2880", "BINTABLE/Segment10@8640", "IMAGE/AMP@17280"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("HDUs differ (-want +got):\n%s", d)
			}
			if !hdrs[2].IsCompressedImage() || hdrs[1].IsCompressedImage() {
				t.Error("IsCompressedImage wrong")
			}
			two, err := read(tt.b, 2)
			if err != nil || len(two) != 2 {
				t.Errorf("maxHDU=2: got %d headers, %v", len(two), err)
			}
		})
	}
}

func TestReadHeaders_Malformed(t *testing.T) {
	good := concat(hdu(primaryCards, nil, true), hdu(imageCards, make([]byte, 12), true))
	withCard := func(c string) []byte {
		return concat(hdu(primaryCards, nil, true), hdu(append(imageCards[:3:3], c), nil, true))
	}
	tests := []struct {
		name    string
		in      []byte
		hdu     int
		offset  int64 // -1: do not check
		wantErr string
	}{
		{"empty", nil, 0, 0, "empty file"},
		{"gzip of nothing", gzipped(t, nil), 0, 0, "empty file"},
		{"not fits", []byte("hello, world\n"), 0, 0, "not a FITS file"},
		{"png", []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 3000)), 0, 0, "not a FITS file"},
		{"SIMPLE = F", hdu([]string{"SIMPLE  =                    F"}, nil, true), 0, 0, "does not conform"},
		{"SIMPLE not first card", hdu([]string{"SIMPLE  = 'T'"}, nil, true), 0, 0, "SIMPLE = T"},
		{"truncated primary", hdu(primaryCards, nil, true)[:200], 0, 200, "truncated header: the file ends after 2 cards"},
		{"no END", []byte(strings.Repeat(card("SIMPLE  = T"), 36)), 0, BlockSize, "before the END card"},
		{"truncated extension header", good[:BlockSize+100], 1, BlockSize + 100, "truncated header"},
		{"truncated data unit", good[:2*BlockSize+5], 1, 2 * BlockSize, "truncated data unit: the file ends after 5 of its 12 bytes"},
		{"truncated gzip data unit", gzipped(t, good[:2*BlockSize+5]), 1, 2 * BlockSize, "truncated data unit"},
		{"unterminated string", withCard("EXTNAME = 'abc"), 1, BlockSize + 3*80, `card 4 "EXTNAME = 'abc": unterminated string`},
		{"garbage after string", withCard("EXTNAME = 'abc' x"), 1, -1, "unexpected"},
		{"bad number", withCard("NAXIS1  = 12a"), 1, -1, `bad value "12a"`},
		{"bad complex", withCard("C       = (1"), 1, -1, "bad complex"},
		{"bad keyword", withCard("A B     = 1"), 1, -1, "keyword"},
		{"non-ASCII", withCard("EXTNAME = 'caf\xc3\xa9'"), 1, -1, "not printable ASCII"},
		{"bad HIERARCH", withCard("HIERARCH = 1"), 1, -1, "HIERARCH"},
		{"extension without XTENSION first", concat(hdu(primaryCards, nil, true), hdu([]string{"XTENSION  'IMAGE'"}, nil, true)), 1, BlockSize, "want XTENSION"},
		{"missing NAXIS", concat(hdu(primaryCards, nil, true), hdu([]string{"XTENSION= 'IMAGE'", "BITPIX  = 8"}, nil, true), good), 1, BlockSize, "NAXIS"},
		{"bad BITPIX", concat(hdu(primaryCards, nil, true), hdu([]string{"XTENSION= 'IMAGE'", "BITPIX  = 12", "NAXIS   = 0"}, nil, true), good), 1, -1, "BITPIX = 12"},
		{"negative NAXIS1", concat(hdu(primaryCards, nil, true), hdu([]string{"XTENSION= 'IMAGE'", "BITPIX  = 8", "NAXIS   = 1", "NAXIS1  = -5"}, nil, true), good), 1, -1, "NAXIS1 = -5"},
		{"overflowing size", concat(hdu(primaryCards, nil, true), hdu([]string{"XTENSION= 'IMAGE'", "BITPIX  = 64", "NAXIS   = 2", "NAXIS1  = 4000000000", "NAXIS2  = 4000000000"}, nil, true)), 1, -1, "overflows"},
		{"corrupt gzip", func() []byte {
			b := gzipped(t, good)
			for i := 20; i < len(b)-8; i++ {
				b[i] ^= 0x5a
			}
			return b
		}(), 0, -1, "gzip"},
		{"truncated gzip", gzipped(t, good)[:60], 0, -1, "truncated gzip stream"},
		{"bad gzip header", []byte{0x1f, 0x8b, 0, 0}, 0, 0, "bad gzip header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdrs, err := read(tt.in, 0)
			if err == nil {
				t.Fatalf("ReadHeaders = %d headers, want error %q", len(hdrs), tt.wantErr)
			}
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
			}
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *fits.Error", err)
			}
			if fe.HDU != tt.hdu {
				t.Errorf("error HDU = %d, want %d (%v)", fe.HDU, tt.hdu, err)
			}
			if tt.offset >= 0 && fe.Offset != tt.offset {
				t.Errorf("error offset = %d, want %d (%v)", fe.Offset, tt.offset, err)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("HDU %d at ", tt.hdu)) {
				t.Errorf("error %q does not start by naming the HDU", err)
			}
		})
	}
}

type failingReaderAt struct {
	r     io.ReaderAt
	after int64 // fail reads that reach past this offset
	err   error
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.after {
		return 0, f.err
	}
	return f.r.ReadAt(p, off)
}

func TestReadHeaders_ReaderError(t *testing.T) {
	file := concat(hdu(primaryCards, nil, true), hdu(imageCards, make([]byte, 12), true))
	boom := errors.New("connection reset")
	for _, tt := range []struct {
		name string
		b    []byte
	}{{"plain", file}, {"gzip", gzipped(t, file)}} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHeaders(failingReaderAt{bytes.NewReader(tt.b), 10, boom}, int64(len(tt.b)), 0)
			if !errors.Is(err, boom) {
				t.Fatalf("error = %v, want it to wrap %v", err, boom)
			}
			if errors.Is(err, errs.ErrInvalid) {
				t.Errorf("I/O error %v is classified ErrInvalid", err)
			}
		})
	}
}

// TestReadHeaders_SkipsData checks that no ReadAt touches a data unit.
func TestReadHeaders_SkipsData(t *testing.T) {
	data := bytes.Repeat([]byte{0xff}, 6*BlockSize)
	cards := []string{"XTENSION= 'IMAGE'", "BITPIX  = 8", "NAXIS   = 1", fmt.Sprintf("NAXIS1  = %d", len(data))}
	file := concat(hdu(primaryCards, nil, true), hdu(cards, data, true), hdu(cards, data, true))
	var touched []string
	r := readerAtFunc(func(p []byte, off int64) (int, error) {
		for _, start := range []int64{2 * BlockSize, 9 * BlockSize} {
			if off < start+int64(len(data)) && off+int64(len(p)) > start {
				touched = append(touched, fmt.Sprintf("[%d,%d)", off, off+int64(len(p))))
			}
		}
		return bytes.NewReader(file).ReadAt(p, off)
	})
	hdrs, err := ReadHeaders(r, int64(len(file)), 0)
	if err != nil || len(hdrs) != 3 {
		t.Fatalf("ReadHeaders = %d headers, %v; want 3", len(hdrs), err)
	}
	if touched != nil {
		t.Errorf("reads touched data units: %v", touched)
	}
}

type readerAtFunc func(p []byte, off int64) (int, error)

func (f readerAtFunc) ReadAt(p []byte, off int64) (int, error) { return f(p, off) }
