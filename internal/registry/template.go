package registry

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry/sqldb"
)

//go:generate go run gen_template.go

// sqliteTemplate is the SQLite file Create makes for the default universe
// with the default datastore records table, in rollback journal mode, with
// its runs of zero bytes left out (see templateBytes: most of its 850 kB are
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
	data, err := templateBytes()
	if err != nil {
		return "", false, fmt.Errorf("create registry %s: %w", path, err)
	}
	if sqldb.JournalMode(path) == "wal" {
		// The file format's read and write versions (header bytes 18 and 19)
		// are 2 in WAL mode; that is all PRAGMA journal_mode=wal changes in a
		// database without a WAL file.
		data[18], data[19] = 2, 2
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", false, fmt.Errorf("registry %s: %w: the database already exists", path, errs.ErrConflict)
		}
		return "", false, fmt.Errorf("create registry %s: %w", path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(path)
		return "", false, fmt.Errorf("create registry %s: %w", path, err)
	}
	return path, true, nil
}

// templateBytes expands the template (a fresh copy each call: the caller
// patches its header). After templateMagic, the file holds the length of
// the database, then pairs of a run of zero bytes and a run of literal
// bytes: the two lengths as uvarints, then the literal bytes.
func templateBytes() ([]byte, error) { return decodeTemplate(sqliteTemplate) }

func decodeTemplate(enc []byte) ([]byte, error) {
	bad := func(what string) ([]byte, error) {
		return nil, fmt.Errorf("embedded registry template: %w: %s", errs.ErrInvalid, what)
	}
	in, ok := strings.CutPrefix(string(enc), templateMagic)
	if !ok {
		return bad("no header")
	}
	b := []byte(in)
	size, n := binary.Uvarint(b)
	if n <= 0 || size > 1<<30 {
		return bad("no size")
	}
	b = b[n:]
	out := make([]byte, size)
	pos := uint64(0)
	for len(b) > 0 {
		zeros, n := binary.Uvarint(b)
		if n <= 0 {
			return bad("truncated")
		}
		b = b[n:]
		lit, n := binary.Uvarint(b)
		if n <= 0 || lit > uint64(len(b)-n) || pos+zeros+lit > size {
			return bad("truncated")
		}
		b = b[n:]
		pos += zeros
		pos += uint64(copy(out[pos:], b[:lit]))
		b = b[lit:]
	}
	if len(out) < 100 || string(out[:16]) != "SQLite format 3\x00" {
		return bad("not a SQLite database")
	}
	return out, nil
}

// EncodeTemplate writes a database in the form templateBytes reads.
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
