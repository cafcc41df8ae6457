package fits

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/gobutler/butler/errs"
)

// StringCard makes a string-valued card. Strings too long for one card are written
// as CONTINUE long strings; trailing blanks are not significant in FITS.
func StringCard(key, value, comment string) Card {
	return Card{Key: key, Value: value, Comment: comment}
}

// IntCard makes an integer-valued card.
func IntCard(key string, value int64, comment string) Card {
	return Card{Key: key, Value: value, Comment: comment}
}

// FloatCard makes a real-valued card (always written with a decimal point or an
// exponent, so that it reads back as a float).
func FloatCard(key string, value float64, comment string) Card {
	return Card{Key: key, Value: value, Comment: comment}
}

// BoolCard makes a logical card (T or F).
func BoolCard(key string, value bool, comment string) Card {
	return Card{Key: key, Value: value, Comment: comment}
}

// UndefinedCard makes a card with an undefined value (a null in header dumps).
func UndefinedCard(key, comment string) Card {
	return Card{Key: key, Comment: comment}
}

// CommentCard makes a COMMENT card; long text is split over several cards.
func CommentCard(text string) Card { return Card{Key: "COMMENT", Comment: text} }

// HistoryCard makes a HISTORY card; long text is split over several cards.
func HistoryCard(text string) Card { return Card{Key: "HISTORY", Comment: text} }

// Writer writes FITS HDUs to a stream.
type Writer struct {
	w    io.Writer
	hdus int
	buf  []byte
}

// NewWriter returns a Writer whose first HDU is the primary.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// WriteHDU writes one HDU: the header cards, an END card, blank padding to a whole
// block, then data (big-endian, as FITS wants; the caller encodes it) padded with
// zeros. The first HDU must start with SIMPLE = T, later ones with XTENSION, and
// len(data) must equal the size the header describes (see Header.DataSize).
// Keys longer than 8 characters or holding characters other than A-Z, 0-9, '-' and
// '_' are written as HIERARCH cards; keys are upper-cased.
func (w *Writer) WriteHDU(h *Header, data []byte) error {
	if err := w.check(h); err != nil {
		return fmt.Errorf("write HDU %d: %w: %w", w.hdus, errs.ErrInvalid, err)
	}
	size, err := h.DataSize()
	if err != nil {
		return fmt.Errorf("write HDU %d: %w: %w", w.hdus, errs.ErrInvalid, err)
	}
	if int64(len(data)) != size {
		return fmt.Errorf("write HDU %d: %w: header describes %d data bytes, got %d", w.hdus, errs.ErrInvalid, size, len(data))
	}
	b := w.buf[:0]
	for i, c := range h.Cards {
		if b, err = AppendCard(b, c); err != nil {
			return fmt.Errorf("write HDU %d card %d: %w", w.hdus, i+1, err)
		}
	}
	b = appendPadded(b, "END")
	for len(b)%BlockSize != 0 {
		b = append(b, ' ')
	}
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write HDU %d header: %w", w.hdus, err)
	}
	if len(data) > 0 {
		if _, err := w.w.Write(data); err != nil {
			return fmt.Errorf("write HDU %d data: %w", w.hdus, err)
		}
		if pad := padded(size) - size; pad > 0 {
			if _, err := w.w.Write(make([]byte, pad)); err != nil {
				return fmt.Errorf("write HDU %d data padding: %w", w.hdus, err)
			}
		}
	}
	w.hdus++
	return nil
}

func (w *Writer) check(h *Header) error {
	if len(h.Cards) == 0 {
		return fmt.Errorf("empty header")
	}
	first := h.Cards[0]
	if w.hdus == 0 {
		if strings.ToUpper(first.Key) != "SIMPLE" || first.Value != true {
			return fmt.Errorf("primary header starts with %s = %v, want SIMPLE = T", first.Key, first.Value)
		}
		return nil
	}
	if _, ok := first.Value.(string); strings.ToUpper(first.Key) != "XTENSION" || !ok {
		return fmt.Errorf("extension header starts with %s = %v, want XTENSION = '<type>'", first.Key, first.Value)
	}
	return nil
}

// AppendCard appends the 80-byte card images of c to b: one card, or several for a
// long string (CONTINUE) or a long COMMENT/HISTORY text. Comments that do not fit
// are shortened: they are for people, not programs.
func AppendCard(b []byte, c Card) ([]byte, error) {
	key := strings.ToUpper(c.Key)
	if key == "END" || key == "CONTINUE" {
		return b, fmt.Errorf("%w: card key %s is written by the writer itself", errs.ErrInvalid, key)
	}
	if isCommentary(key) {
		if c.Value != nil {
			return b, fmt.Errorf("%w: %s card with a value", errs.ErrInvalid, key)
		}
		text := c.Comment
		if err := checkPrintable(text); err != nil {
			return b, fmt.Errorf("%w: %s text: %w", errs.ErrInvalid, key, err)
		}
		for {
			n := min(len(text), CardSize-8)
			b = appendPadded(b, fmt.Sprintf("%-8s%s", key, text[:n]))
			if text = text[n:]; text == "" {
				return b, nil
			}
		}
	}
	if err := checkPrintable(key); err != nil {
		return b, fmt.Errorf("%w: key %q: %w", errs.ErrInvalid, c.Key, err)
	}
	if err := checkPrintable(c.Comment); err != nil {
		return b, fmt.Errorf("%w: comment of %s: %w", errs.ErrInvalid, key, err)
	}
	prefix := fmt.Sprintf("%-8s= ", key)
	if len(key) > 8 || checkKey(key) != nil {
		if strings.ContainsAny(key, "='") || strings.TrimSpace(key) != key || key == "" {
			return b, fmt.Errorf("%w: key %q cannot be written even as HIERARCH", errs.ErrInvalid, c.Key)
		}
		prefix = "HIERARCH " + key + " = "
	}
	var val string
	switch v := c.Value.(type) {
	case nil:
	case string:
		if err := checkPrintable(v); err != nil {
			return b, fmt.Errorf("%w: value of %s: %w", errs.ErrInvalid, key, err)
		}
		return appendString(b, key, prefix, v, c.Comment)
	case bool:
		val = "F"
		if v {
			val = "T"
		}
	case int64:
		val = strconv.FormatInt(v, 10)
	case int:
		val = strconv.Itoa(v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("%w: %s = %v: FITS has no NaN or infinite values", errs.ErrInvalid, key, v)
		}
		val = formatFloat(v)
	default:
		return b, fmt.Errorf("%w: %s has a value of type %T, want string, int64, float64, bool or nil", errs.ErrInvalid, key, v)
	}
	if len(prefix) == 10 && len(val) < 20 {
		val = fmt.Sprintf("%20s", val) // fixed format: right-justified to column 30
	}
	card := prefix + val
	if len(card) > CardSize {
		return b, fmt.Errorf("%w: %s card is %d characters, more than %d", errs.ErrInvalid, key, len(card), CardSize)
	}
	return appendPadded(b, withComment(card, c.Comment)), nil
}

// appendString writes a string value, splitting it over CONTINUE cards (the long
// string convention: each part but the last ends in '&') when it does not fit.
func appendString(b []byte, key, prefix, s, comment string) ([]byte, error) {
	esc := strings.ReplaceAll(s, "'", "''")
	if len(esc) < 8 {
		esc += strings.Repeat(" ", 8-len(esc)) // fixed format: at least 8 characters
	}
	if card := prefix + "'" + esc + "'"; len(card) <= CardSize {
		return appendPadded(b, withComment(card, comment)), nil
	}
	room := CardSize - len(prefix) - 2 - 1 // quotes and '&'
	if room < 2 {
		return b, fmt.Errorf("%w: HIERARCH key %q leaves no room for a value", errs.ErrInvalid, key)
	}
	first := true
	for esc != "" {
		p := prefix
		if !first {
			p = "CONTINUE  "
			room = CardSize - len(p) - 3
		}
		first = false
		if len(esc) <= room+1 { // the last part needs no '&'
			return appendPadded(b, withComment(p+"'"+esc+"'", comment)), nil
		}
		n := room
		if quotesBefore(esc, n)%2 == 1 {
			n-- // never split a '' pair
		}
		b = appendPadded(b, p+"'"+esc[:n]+"&'")
		esc = esc[n:]
	}
	return b, nil
}

// quotesBefore counts the quote characters immediately before position n.
func quotesBefore(s string, n int) int {
	k := 0
	for n-1-k >= 0 && s[n-1-k] == '\'' {
		k++
	}
	return k
}

func withComment(card, comment string) string {
	if comment == "" {
		return card
	}
	if len(card) < 30 {
		card += strings.Repeat(" ", 30-len(card)) // align comments after the fixed-format value field
	}
	room := CardSize - len(card) - 3
	if room < 1 {
		return card
	}
	if len(comment) > room {
		comment = comment[:room]
	}
	return card + " / " + comment
}

// formatFloat writes the shortest text that reads back as v: plain decimals for
// everyday magnitudes (1818938.94, not 1.81893894E+06), an exponent otherwise.
func formatFloat(v float64) string {
	var s string
	if a := math.Abs(v); a == 0 || a >= 1e-4 && a < 1e15 {
		s = strconv.FormatFloat(v, 'f', -1, 64)
	} else {
		s = strconv.FormatFloat(v, 'E', -1, 64)
	}
	if !strings.ContainsAny(s, ".E") {
		s += ".0"
	}
	return s
}

func checkPrintable(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("byte 0x%02x is not printable ASCII", s[i])
		}
	}
	return nil
}

func appendPadded(b []byte, card string) []byte {
	b = append(b, card...)
	for i := len(card); i < CardSize; i++ {
		b = append(b, ' ')
	}
	return b
}
