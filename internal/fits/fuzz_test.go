package fits

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/google/go-cmp/cmp"
)

// structural keys change the layout of the HDU, so the round trip leaves them out.
var structural = map[string]bool{"SIMPLE": true, "XTENSION": true, "BITPIX": true, "NAXIS": true,
	"PCOUNT": true, "GCOUNT": true, "GROUPS": true, "END": true}

func FuzzReadHeaders(f *testing.F) {
	table := []string{"XTENSION= 'BINTABLE'", "BITPIX  = 8", "NAXIS   = 2", "NAXIS1  = 8", "NAXIS2  = 2",
		"PCOUNT  = 10", "GCOUNT  = 1", "TFIELDS = 1", "ZIMAGE  = T"}
	seeds := [][]byte{
		hdu(primaryCards, nil, true),
		concat(hdu(primaryCards, nil, true), hdu(imageCards, make([]byte, 12), true)),
		concat(hdu(primaryCards, nil, true), hdu(table, make([]byte, 26), false)),
		hdu(append(primaryCards[:4:4], "LONG    = 'a&'", "CONTINUE  'b&'", "CONTINUE  'c'",
			"HIERARCH STUTTER ROWS = 0", "Q       = 'it''s'", "D       = 1.5D3", "C       = (1,2)",
			"COMMENT hello", "U       =", "B       = F"), nil, true),
		[]byte("SIMPLE  = T"),
		{},
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(gzipped(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		hdrs, err := read(b, 0)
		if err != nil {
			var fe *Error
			if !errors.Is(err, errs.ErrInvalid) || !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *fits.Error matching ErrInvalid", err)
			}
			return
		}
		if len(hdrs) == 0 || !hdrs[0].IsPrimary() {
			t.Fatalf("success with %d headers and no SIMPLE primary", len(hdrs))
		}
		for i, h := range hdrs[1:] {
			if x, ok := h.String("XTENSION"); !ok || x == "" && h.Cards[0].Key != "XTENSION" {
				t.Fatalf("HDU %d has no XTENSION", i+1)
			}
		}
		// Whatever the writer accepts must read back to the same values.
		for _, h := range hdrs {
			file := []byte(strings.Join([]string{card("SIMPLE  = T"), card("BITPIX  = 8"), card("NAXIS   = 0")}, ""))
			want := map[string]any{"SIMPLE": true, "BITPIX": int64(8), "NAXIS": int64(0)}
			for _, c := range h.Cards {
				if isCommentary(c.Key) || structural[c.Key] || strings.HasPrefix(c.Key, "NAXIS") || c.Key == "CONTINUE" {
					continue
				}
				img, err := AppendCard(nil, c)
				if err != nil {
					continue
				}
				file = append(file, img...)
				want[c.Key] = c.Value
			}
			file = append(file, card("END")...)
			for len(file)%BlockSize != 0 {
				file = append(file, ' ')
			}
			back, err := read(file, 0)
			if err != nil {
				t.Fatalf("re-encoded header does not read: %v", err)
			}
			if d := cmp.Diff(want, back[0].Map()); d != "" {
				t.Fatalf("round trip differs (-want +got):\n%s\nfile:\n%s", d, bytes.TrimRight(file, " "))
			}
		}
	})
}
