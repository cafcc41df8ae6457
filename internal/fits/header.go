// Package fits reads and writes FITS headers. It walks header units only: data units
// are stepped over (ReadAt jumps over them; a gzip stream is decompressed and
// discarded), so reading the metadata of a 75 MB raw touches a few tens of KB.
// Tile-compressed images (fpack, ZIMAGE = T) are ordinary BINTABLE HDUs here: their
// Z* keywords are not mapped back to image keywords.
package fits

import (
	"fmt"
	"math"
	"strings"
)

// BlockSize is the FITS logical record length: headers and data units are padded to it.
const BlockSize = 2880

// CardSize is the length of one header card image.
const CardSize = 80

// Card is one header keyword record.
//
// Value is a string, int64, float64, bool, or nil for an undefined value. A complex
// value is kept as its string form, "(re, im)". Commentary cards (COMMENT, HISTORY,
// blank keyword, or any keyword without "= " in columns 9-10) have a nil Value and
// their text in Comment. Keys are upper case; a HIERARCH key is stored without the
// "HIERARCH " prefix, its words joined by single spaces ("STUTTER ROWS").
type Card struct {
	Key     string
	Value   any
	Comment string
}

// Header is the header of one HDU, cards in file order. CONTINUE cards are folded
// into the long string they continue and END is not kept.
type Header struct {
	Cards []Card
	// Offset is where the header starts, in bytes from the start of the file (or of
	// the decompressed stream for a gzip file). Set by ReadHeaders.
	Offset int64
}

// isCommentary reports whether key names a card that never carries a value.
func isCommentary(key string) bool {
	return key == "COMMENT" || key == "HISTORY" || key == ""
}

// Get returns the value of the last card with that key (FITS readers conventionally
// let a repeated keyword's last occurrence win). The key is matched upper case.
// COMMENT, HISTORY and blank-keyword cards are never found.
func (h *Header) Get(key string) (any, bool) {
	key = strings.ToUpper(key)
	if isCommentary(key) {
		return nil, false
	}
	for i := len(h.Cards) - 1; i >= 0; i-- {
		if h.Cards[i].Key == key {
			return h.Cards[i].Value, true
		}
	}
	return nil, false
}

// Has reports whether a card with that key exists and has a defined value.
func (h *Header) Has(key string) bool {
	v, ok := h.Get(key)
	return ok && v != nil
}

// String returns the value of key if it is a string.
func (h *Header) String(key string) (string, bool) {
	v, _ := h.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Int returns the value of key if it is an integer, or a float with an integral value.
func (h *Header) Int(key string) (int64, bool) {
	v, _ := h.Get(key)
	switch v := v.(type) {
	case int64:
		return v, true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
			return int64(v), true
		}
	}
	return 0, false
}

// Float returns the value of key if it is a number.
func (h *Header) Float(key string) (float64, bool) {
	v, _ := h.Get(key)
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// Bool returns the value of key if it is a logical.
func (h *Header) Bool(key string) (bool, bool) {
	v, _ := h.Get(key)
	b, ok := v.(bool)
	return b, ok
}

// Map returns key → value for every card except COMMENT, HISTORY and blank-keyword
// cards; a repeated key keeps its last value, as in Get.
func (h *Header) Map() map[string]any {
	m := make(map[string]any, len(h.Cards))
	for _, c := range h.Cards {
		if !isCommentary(c.Key) {
			m[c.Key] = c.Value
		}
	}
	return m
}

// Add appends cards.
func (h *Header) Add(cards ...Card) {
	h.Cards = append(h.Cards, cards...)
}

// Set replaces the value and comment of the last card with key, or appends a card.
func (h *Header) Set(key string, value any, comment string) {
	key = strings.ToUpper(key)
	for i := len(h.Cards) - 1; i >= 0; i-- {
		if h.Cards[i].Key == key && !isCommentary(key) {
			h.Cards[i].Value, h.Cards[i].Comment = value, comment
			return
		}
	}
	h.Cards = append(h.Cards, Card{Key: key, Value: value, Comment: comment})
}

// IsPrimary reports whether the header starts with SIMPLE.
func (h *Header) IsPrimary() bool {
	return len(h.Cards) > 0 && h.Cards[0].Key == "SIMPLE"
}

// IsCompressedImage reports whether the HDU is a tile-compressed image (a BINTABLE
// with ZIMAGE = T), as written by fpack and the summit camera.
func (h *Header) IsCompressedImage() bool {
	z, _ := h.Bool("ZIMAGE")
	x, _ := h.String("XTENSION")
	return z && (x == "BINTABLE" || x == "A3DTABLE")
}

// DataSize returns the size in bytes of the HDU's data unit before padding:
// |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn), with no data when NAXIS = 0
// and NAXIS1 left out for random groups (NAXIS1 = 0, GROUPS = T). For a
// tile-compressed image this covers the table and its heap (PCOUNT).
func (h *Header) DataSize() (int64, error) {
	bitpix, ok := h.Int("BITPIX")
	if !ok {
		return 0, fmt.Errorf("missing or non-integer BITPIX")
	}
	switch bitpix {
	case 8, 16, 32, 64, -32, -64:
	default:
		return 0, fmt.Errorf("BITPIX = %d, want one of 8, 16, 32, 64, -32, -64", bitpix)
	}
	naxis, ok := h.Int("NAXIS")
	if !ok {
		return 0, fmt.Errorf("missing or non-integer NAXIS")
	}
	if naxis < 0 || naxis > 999 {
		return 0, fmt.Errorf("NAXIS = %d, want 0..999", naxis)
	}
	pcount, gcount := int64(0), int64(1)
	if v, ok := h.Get("PCOUNT"); ok && v != nil {
		if pcount, ok = h.Int("PCOUNT"); !ok || pcount < 0 {
			return 0, fmt.Errorf("PCOUNT = %v, want a non-negative integer", v)
		}
	}
	if v, ok := h.Get("GCOUNT"); ok && v != nil {
		if gcount, ok = h.Int("GCOUNT"); !ok || gcount < 0 {
			return 0, fmt.Errorf("GCOUNT = %v, want a non-negative integer", v)
		}
	}
	var elems int64
	if naxis > 0 {
		elems = 1
		groups, _ := h.Bool("GROUPS")
		for i := int64(1); i <= naxis; i++ {
			key := fmt.Sprintf("NAXIS%d", i)
			n, ok := h.Int(key)
			if !ok || n < 0 {
				v, _ := h.Get(key)
				return 0, fmt.Errorf("%s = %v, want a non-negative integer", key, v)
			}
			if i == 1 && n == 0 && groups {
				continue // random groups: NAXIS1 = 0 is a marker, not a length
			}
			if elems, ok = mulCheck(elems, n); !ok {
				return 0, fmt.Errorf("data unit size overflows (NAXIS%d = %d)", i, n)
			}
		}
	}
	total, ok := addCheck(pcount, elems)
	if ok {
		total, ok = mulCheck(total, gcount)
	}
	if ok {
		total, ok = mulCheck(total, abs(bitpix)/8)
	}
	if !ok {
		return 0, fmt.Errorf("data unit size overflows")
	}
	return total, nil
}

// padded rounds n up to a whole number of blocks.
func padded(n int64) int64 {
	return (n + BlockSize - 1) / BlockSize * BlockSize
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// mulCheck multiplies non-negative numbers, reporting false on overflow past
// 1<<62 (far beyond any real file, and it keeps padding arithmetic safe).
func mulCheck(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > (1<<62)/b {
		return 0, false
	}
	return a * b, true
}

func addCheck(a, b int64) (int64, bool) {
	if a > (1<<62)-b {
		return 0, false
	}
	return a + b, true
}
