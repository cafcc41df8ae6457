package fits

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sparseWriter seeks over long runs of zeros, so a 75 MB synthetic raw costs a few
// hundred KB of disk.
type sparseWriter struct {
	f *os.File
}

func (s sparseWriter) Write(p []byte) (int, error) {
	if len(p) >= BlockSize && allZero(p) {
		if _, err := s.f.Seek(int64(len(p)), io.SeekCurrent); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return s.f.Write(p)
}

func allZero(p []byte) bool {
	for _, c := range p {
		if c != 0 {
			return false
		}
	}
	return true
}

// writeSynthRaw writes a raw shaped like a summit science CCD: a primary of about
// 120 cards (HIERARCH and CONTINUE included) and 16 int32 amplifier HDUs of
// width × height pixels with about 60 cards each. It returns the header bytes.
func writeSynthRaw(tb testing.TB, w io.Writer, width, height int) int64 {
	tb.Helper()
	fw := NewWriter(w)
	p := &Header{}
	p.Add(BoolCard("SIMPLE", true, ""), IntCard("BITPIX", 8, ""), IntCard("NAXIS", 0, ""), BoolCard("EXTEND", true, ""))
	for i := range 100 {
		switch i % 4 {
		case 0:
			p.Add(StringCard(fmt.Sprintf("SKEY%03d", i), "MC_O_20250415_000060", "a string"))
		case 1:
			p.Add(FloatCard(fmt.Sprintf("FKEY%03d", i), 60781.03696264839, "a float"))
		case 2:
			p.Add(IntCard(fmt.Sprintf("IKEY%03d", i), int64(i), "an int"))
		case 3:
			p.Add(BoolCard(fmt.Sprintf("BKEY%03d", i), true, "a bool"))
		}
	}
	p.Add(IntCard("STUTTER ROWS", 0, ""), FloatCard("STUTTER DELAY", 0, ""), IntCard("SIMULATE MTMOUNT", 0, ""),
		StringCard("LONGSTR", string(bytes.Repeat([]byte("0123456789"), 20)), "continued"))
	if err := fw.WriteHDU(p, nil); err != nil {
		tb.Fatal(err)
	}
	hdrBytes := padded(int64(len(p.Cards)+4) * CardSize)
	data := make([]byte, width*height*4)
	for _, name := range ampNames {
		a := &Header{}
		a.Add(StringCard("XTENSION", "IMAGE", ""), IntCard("BITPIX", 32, ""), IntCard("NAXIS", 2, ""),
			IntCard("NAXIS1", int64(width), ""), IntCard("NAXIS2", int64(height), ""),
			IntCard("PCOUNT", 0, ""), IntCard("GCOUNT", 1, ""), StringCard("EXTNAME", name, ""))
		for i := range 50 {
			a.Add(FloatCard(fmt.Sprintf("CRVAL%dA", i), 4001, ""))
		}
		if err := fw.WriteHDU(a, data); err != nil {
			tb.Fatal(err)
		}
		hdrBytes += padded(int64(len(a.Cards)+1) * CardSize)
	}
	return hdrBytes
}

func BenchmarkReadHeaders(b *testing.B) {
	dir := b.TempDir()
	plain := filepath.Join(dir, "raw16.fits")
	f, err := os.Create(plain)
	if err != nil {
		b.Fatal(err)
	}
	hdrBytes := writeSynthRaw(b, sparseWriter{f}, 576, 2048)
	end, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(end); err != nil { // the last data unit may end in a hole
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	gz := filepath.Join(dir, "raw16.fits.gz")
	{
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		writeSynthRaw(b, zw, 576, 2048)
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(gz, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name  string
		path  string
		bytes int64 // bytes that must be looked at per file
	}{
		{"format=plain", plain, hdrBytes},
		{"format=gzip", gz, end},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f, err := os.Open(bc.path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bc.bytes)
			b.ReportAllocs()
			headers := 0
			for b.Loop() {
				hdrs, err := ReadHeaders(f, st.Size(), 0)
				if err != nil || len(hdrs) != 17 {
					b.Fatalf("ReadHeaders = %d headers, %v", len(hdrs), err)
				}
				headers += len(hdrs)
			}
			b.ReportMetric(float64(headers)/b.Elapsed().Seconds(), "headers/s")
		})
	}
}
