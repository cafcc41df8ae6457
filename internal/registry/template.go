package registry

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

//go:generate go run gen_template.go

// sqliteTemplate is the SQLite file Create makes for the default universe
// with the default datastore records table, in rollback journal mode, with
// its runs of zero bytes left out (see expandTemplate: most of its 850 kB are
// empty pages; gzip took longer to undo than the rest of `butler create`).
// `go generate ./internal/registry` rewrites it, and
// TestSQLiteTemplate_Current fails when the schema code no longer makes it.
//
//go:embed sqlite_template.bin
var sqliteTemplate []byte

// templateMagic starts sqlite_template.bin.
const templateMagic = "butler-zero-runs-1\n"

// TemplateRecordsTable is the datastore records table the template holds.
const TemplateRecordsTable = "file_datastore_records"

// CreateFromTemplate writes a new SQLite registry at loc as a copy of the
// embedded template: the database Create would make, without running its two
// hundred DDL statements (most of the time of a new repository). It applies
// when u is nil (the default universe), opaqueTables is just
// TemplateRecordsTable and loc is a SQLite file that does not exist yet;
// otherwise ok is false, nothing was done and the caller uses Connect and
// Create. The new file gets the journal mode JournalMode chooses and is
// synced; created is its path, for the caller to remove if a later step of
// creating the repository fails.
func CreateFromTemplate(ctx context.Context, loc Location, u *dimensions.Universe, opaqueTables ...string) (created string, ok bool, err error) {
	if u != nil || len(opaqueTables) != 1 || opaqueTables[0] != TemplateRecordsTable || !strings.HasPrefix(loc.URL, "sqlite:///") {
		return "", false, nil
	}
	path := strings.TrimPrefix(loc.URL, "sqlite:///")
	if path == "" || path == ":memory:" {
		return "", false, nil
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return "", false, nil // Connect and Create explain what is there
	}
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	wal := sqldb.JournalMode(path) == "wal"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", false, fmt.Errorf("registry %s: %w: the database already exists", path, errs.ErrConflict)
		}
		return "", false, fmt.Errorf("create registry %s: %w", path, err)
	}
	werr := expandTemplate(f, sqliteTemplate, func(header []byte) {
		if wal {
			// The file format's read and write versions (header bytes 18
			// and 19) are 2 in WAL mode; that is all PRAGMA
			// journal_mode=wal changes in a database without a WAL file.
			header[18], header[19] = 2, 2
		}
	})
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("create registry %s: %w", path, err)
	}
	return path, true, nil
}

// expandTemplate writes the database enc holds to w, 64 KiB at a time
// (most of it zeros: a buffer of the whole file cost more in page faults
// than the rest of the copy); patch may change the first chunk, which holds
// the header, before it is written. After templateMagic, enc holds the
// length of the database, then pairs of a run of zero bytes and a run of
// literal bytes: the two lengths as uvarints, then the literal bytes.
func expandTemplate(w io.Writer, enc []byte, patch func(header []byte)) error {
	bad := func(what string) error {
		return fmt.Errorf("embedded registry template: %w: %s", errs.ErrInvalid, what)
	}
	b, ok := bytes.CutPrefix(enc, []byte(templateMagic))
	if !ok {
		return bad("no header")
	}
	size, n := binary.Uvarint(b)
	if n <= 0 || size > 1<<30 {
		return bad("no size")
	}
	b = b[n:]
	buf := make([]byte, 64<<10)
	out, written, first := buf[:0], uint64(0), true
	flush := func() error {
		if first {
			if len(out) < 100 || string(out[:16]) != "SQLite format 3\x00" {
				return bad("not a SQLite database")
			}
			patch(out)
			first = false
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
		written += uint64(len(out))
		clear(out) // zero again for the next chunk's zero runs
		out = buf[:0]
		return nil
	}
	for len(b) > 0 {
		zeros, n := binary.Uvarint(b)
		if n <= 0 {
			return bad("truncated")
		}
		b = b[n:]
		lit, n := binary.Uvarint(b)
		if n <= 0 || lit > uint64(len(b)-n) || written+uint64(len(out))+zeros+lit > size {
			return bad("truncated")
		}
		b = b[n:]
		for zeros > 0 {
			k := min(zeros, uint64(cap(buf)-len(out)))
			out, zeros = out[:len(out)+int(k)], zeros-k
			if len(out) == cap(buf) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		for l := b[:lit]; len(l) > 0; {
			k := copy(buf[len(out):], l)
			out, l = out[:len(out)+k], l[k:]
			if len(out) == cap(buf) {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		b = b[lit:]
	}
	if len(out) > 0 || first {
		if err := flush(); err != nil {
			return err
		}
	}
	if written != size {
		return bad("truncated")
	}
	return nil
}

// decodeTemplate is the database enc holds, whole.
func decodeTemplate(enc []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := expandTemplate(&buf, enc, func([]byte) {}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EncodeTemplate writes a database in the form expandTemplate reads.
func EncodeTemplate(data []byte) []byte {
	out := binary.AppendUvarint([]byte(templateMagic), uint64(len(data)))
	for i := 0; i < len(data); {
		z := i
		for z < len(data) && data[z] == 0 {
			z++
		}
		// The literal run ends at the next run of 16 zero bytes (shorter
		// ones cost more to describe than to keep).
		end := z
		for end < len(data) {
			if data[end] != 0 {
				end++
				continue
			}
			k := end
			for k < len(data) && k-end < 16 && data[k] == 0 {
				k++
			}
			if k-end == 16 || k == len(data) {
				break
			}
			end = k
		}
		out = binary.AppendUvarint(out, uint64(z-i))
		out = binary.AppendUvarint(out, uint64(end-z))
		out = append(out, data[z:end]...)
		i = end
	}
	return out
}

// BuildTemplate makes a new registry at path (a file that must not exist)
// the way a repository without the template gets one, Connect then Create,
// and returns the file's content: what sqlite_template.db.gz holds.
func BuildTemplate(ctx context.Context, path string) ([]byte, error) {
	db, err := sqldb.OpenSQLite(ctx, path, true, false)
	if err != nil {
		return nil, err
	}
	reg, err := Create(ctx, db, nil, TemplateRecordsTable)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := reg.Close(); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}
