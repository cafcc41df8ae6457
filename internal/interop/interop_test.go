package interop_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/internal/testutil/pgtest"
	"github.com/gobutler/butler/timespan"
	"github.com/google/go-cmp/cmp"
)

// The interop suite: repositories made by this butler are read and written by
// the real Python butler (daf_butler w.2023.51, built from ../shared/pyref),
// and the other way round, on SQLite and PostgreSQL. Both build the same
// content (the scenario below); then each side's answers are compared.
//
// Scenario, universe 4: dimension records (testdata/records.yaml); dataset
// types cfg (instrument, detector), raw (instrument, exposure, detector), bias
// (calibration) and dimensionless; cfg put in u/put (detectors 1-4) and
// ingested (copy) in u/ingested (detectors 1-2); raw-like YAML files ingested
// by symlink in u/raw; bias in calib/run1 (detectors 1, 2) and calib/run2
// (detector 1), certified into calib over [2023-01-01, 2023-06-01) and
// [2023-06-01, ∞); TAGGED tagged (u/put detectors 1, 2); CHAINED chain/inner
// = [tagged, u/ingested] and chain/outer = [chain/inner, u/put, calib].

const (
	begin1 = "2023-01-01T00:00:00"
	split  = "2023-06-01T00:00:00"
)

// cfgValue is the content of dataset cfg for a detector in a run, as YAML.
func cfgValue(run string, det int) string {
	return fmt.Sprintf("detector: %d\nrun: %s\nvalues:\n- 1\n- 2\n", det, run)
}

// buildOurs makes the scenario with our binary.
func buildOurs(e *env) string {
	t := e.t
	root := e.newOurs("ours")
	e.ours("import", root, e.data, "--export-file", "records.yaml")
	e.ours("register-dataset-type", root, "cfg", "StructuredDataDict", "instrument", "detector")
	e.ours("register-dataset-type", root, "raw", "StructuredDataDict", "instrument", "exposure", "detector")
	e.ours("register-dataset-type", root, "bias", "StructuredDataDict", "instrument", "detector", "--is-calibration")
	for d := 1; d <= 4; d++ {
		f := e.writeFile(fmt.Sprintf("put/cfg%d.yaml", d), cfgValue("u/put", d))
		e.ours("put", root, "cfg", "u/put", f, "--data-id", "instrument=Cam1", "--data-id", fmt.Sprintf("detector=%d", d))
	}
	e.writeFile("ing/a.yaml", cfgValue("u/ingested", 1))
	e.writeFile("ing/b.yaml", cfgValue("u/ingested", 2))
	table := e.writeFile("ing/files.csv", "file,detector\na.yaml,1\nb.yaml,2\n")
	// Relative paths in the table are relative to --prefix (else the current
	// directory), as upstream's ingest-files takes them.
	e.ours("ingest-files", root, "cfg", "u/ingested", table, "--prefix", filepath.Dir(table), "--data-id", "instrument=Cam1", "-t", "copy")
	rows := "file,exposure,detector\n"
	for _, r := range [][2]int{{100, 1}, {100, 2}, {101, 1}} {
		e.writeFile(fmt.Sprintf("raw/raw_%d_%d.yaml", r[0], r[1]), fmt.Sprintf("exposure: %d\ndetector: %d\n", r[0], r[1]))
		rows += fmt.Sprintf("raw_%d_%d.yaml,%d,%d\n", r[0], r[1], r[0], r[1])
	}
	rawTable := e.writeFile("raw/files.csv", rows)
	e.ours("ingest-files", root, "raw", "u/raw", rawTable, "--prefix", filepath.Dir(rawTable), "--data-id", "instrument=Cam1", "-t", "symlink")
	for _, b := range []struct {
		run string
		det int
	}{{"calib/run1", 1}, {"calib/run1", 2}, {"calib/run2", 1}} {
		f := e.writeFile(fmt.Sprintf("bias/%s_%d.yaml", strings.ReplaceAll(b.run, "/", "_"), b.det), cfgValue(b.run, b.det))
		e.ours("put", root, "bias", b.run, f, "--data-id", "instrument=Cam1", "--data-id", fmt.Sprintf("detector=%d", b.det))
	}
	e.ours("certify-calibrations", root, "calib/run1", "calib", "bias", "--begin-date", begin1, "--end-date", split)
	e.ours("certify-calibrations", root, "calib/run2", "calib", "bias", "--begin-date", split)
	e.ours("associate", root, "tagged", "--collections", "u/put", "-d", "cfg", "--where", "instrument = 'Cam1' AND detector IN (1, 2)")
	e.ours("collection-chain", root, "chain/inner", "tagged", "u/ingested")
	e.ours("collection-chain", root, "chain/outer", "chain/inner", "u/put", "calib")
	t.Logf("built the scenario with our butler in %s", root)
	return root
}

// buildPython makes the scenario with the Python butler.
func buildPython(e *env) string {
	t := e.t
	root, create := e.createOp("python")
	ops := []op{
		create,
		{"op": "cli", "args": []string{"import", root, e.data, "--export-file", "records.yaml"}},
		{"op": "register", "repo": root, "name": "cfg", "dimensions": []string{"instrument", "detector"}, "storage_class": "StructuredDataDict"},
		{"op": "register", "repo": root, "name": "raw", "dimensions": []string{"instrument", "exposure", "detector"}, "storage_class": "StructuredDataDict"},
		{"op": "register", "repo": root, "name": "bias", "dimensions": []string{"instrument", "detector"}, "storage_class": "StructuredDataDict", "calibration": true},
	}
	for d := 1; d <= 4; d++ {
		ops = append(ops, op{"op": "put", "repo": root, "run": "u/put", "type": "cfg", "data_id": map[string]any{"instrument": "Cam1", "detector": d}, "value": map[string]any{"detector": d, "run": "u/put"}})
	}
	ing := op{"op": "ingest", "repo": root, "run": "u/ingested", "type": "cfg", "transfer": "copy"}
	var files []map[string]any
	for d := 1; d <= 2; d++ {
		files = append(files, map[string]any{"path": e.writeFile(fmt.Sprintf("pying/%d.yaml", d), cfgValue("u/ingested", d)), "data_id": map[string]any{"instrument": "Cam1", "detector": d}})
	}
	ing["files"] = files
	raws := op{"op": "ingest", "repo": root, "run": "u/raw", "type": "raw", "transfer": "symlink"}
	files = nil
	for _, r := range [][2]int{{100, 1}, {100, 2}, {101, 1}} {
		p := e.writeFile(fmt.Sprintf("pyraw/raw_%d_%d.yaml", r[0], r[1]), fmt.Sprintf("exposure: %d\ndetector: %d\n", r[0], r[1]))
		files = append(files, map[string]any{"path": p, "data_id": map[string]any{"instrument": "Cam1", "exposure": r[0], "detector": r[1]}})
	}
	raws["files"] = files
	ops = append(ops, ing, raws)
	for _, b := range []struct {
		run string
		det int
	}{{"calib/run1", 1}, {"calib/run1", 2}, {"calib/run2", 1}} {
		ops = append(ops, op{"op": "put", "repo": root, "run": b.run, "type": "bias", "data_id": map[string]any{"instrument": "Cam1", "detector": b.det}, "value": map[string]any{"detector": b.det, "run": b.run}})
	}
	res := e.py(ops...)
	for i, r := range res {
		mustOK(t, r, fmt.Sprint("build step ", i))
	}
	mustCLI(t, res[0], "create")
	mustCLI(t, res[1], "import")
	put := []string{res[5]["id"].(string), res[6]["id"].(string)}
	bias := []string{res[11]["id"].(string), res[12]["id"].(string), res[13]["id"].(string)}
	res = e.py(
		op{"op": "certify", "repo": root, "collection": "calib", "ids": bias[:2], "begin": begin1, "end": split},
		op{"op": "certify", "repo": root, "collection": "calib", "ids": bias[2:], "begin": split},
		op{"op": "collection", "repo": root, "name": "tagged", "type": "TAGGED", "ids": put},
		op{"op": "collection", "repo": root, "name": "chain/inner", "type": "CHAINED", "children": []string{"tagged", "u/ingested"}},
		op{"op": "collection", "repo": root, "name": "chain/outer", "type": "CHAINED", "children": []string{"chain/inner", "u/put", "calib"}},
	)
	for i, r := range res {
		mustOK(t, r, fmt.Sprint("collections step ", i))
	}
	t.Logf("built the scenario with the Python butler in %s", root)
	return root
}

// queries are the query commands whose tables both butlers must agree on.
var queries = [][]string{
	{"query-collections", "{repo}"},
	{"query-dataset-types", "{repo}"},
	{"query-datasets", "{repo}", "cfg", "--collections", "chain/outer"},
	{"query-datasets", "{repo}", "cfg", "--collections", "chain/outer", "--find-first"},
	{"query-datasets", "{repo}", "raw", "--collections", "u/raw", "--where", "instrument = 'Cam1' AND exposure = 100"},
	{"query-datasets", "{repo}", "bias", "--collections", "calib/run1,calib/run2"},
	{"query-datasets", "{repo}", "cfg", "--collections", "u/put,tagged"},
	{"query-data-ids", "{repo}", "exposure", "detector", "--where", "instrument = 'Cam1' AND detector < 3"},
	{"query-data-ids", "{repo}", "detector", "--datasets", "raw", "--collections", "u/raw"},
	{"query-dimension-records", "{repo}", "detector"},
	{"query-dimension-records", "{repo}", "exposure"},
	{"query-dimension-records", "{repo}", "physical_filter"},
}

// queryOps are the Python side of checkQueries.
func queryOps(root string) []op {
	var ops []op
	for _, q := range queries {
		ops = append(ops, op{"op": "cli", "args": substitute(q, root)})
	}
	return ops
}

// checkQueries runs each query with our butler and compares its rows with
// Python's (on the columns both print).
func checkQueries(e *env, root string, res []map[string]any) {
	t := e.t
	for i, q := range queries {
		args := substitute(q, root)
		name := strings.Join(q, " ")
		pyOut := mustCLI(t, res[i], name)
		ourOut := e.ours(args...)
		pt, ot := parseTables(pyOut), parseTables(ourOut)
		if len(pt) == 0 || len(pt[0].rows) == 0 {
			t.Errorf("%s: Python printed no rows:\n%s", name, pyOut)
			continue
		}
		common, onlyPy, onlyOurs := commonColumns(pt, ot)
		if len(onlyPy)+len(onlyOurs) > 0 {
			t.Logf("%s: columns only Python prints %v, only we print %v (compared on %v)", name, onlyPy, onlyOurs, common)
		}
		if len(common) == 0 {
			t.Errorf("%s: no column in common:\npython:\n%s\nours:\n%s", name, pyOut, ourOut)
			continue
		}
		if d := cmp.Diff(rowSet(pt, common), rowSet(ot, common)); d != "" {
			t.Errorf("%s: rows differ (-python +ours):\n%s\npython:\n%s\nours:\n%s", name, d, pyOut, ourOut)
		}
		e.c.add("query-tables", 1)
		e.c.add("query-rows", len(rowSet(pt, common)))
	}
}

// compareAll compares the scenario's query tables, dataset reads (bytes) and
// lookups between both butlers, with one Python process, and returns the IDs
// of the scenario's datasets.
func compareAll(e *env, root string) []string {
	qops := queryOps(root)
	fops, finds := findOps(root)
	read := op{"op": "read", "repo": root, "types": []string{"cfg", "raw", "bias"}, "collections": scenarioRuns}
	res := e.py(append(append(qops, read), fops...)...)
	checkQueries(e, root, res[:len(qops)])
	py := pyBytes(e.t, mustOK(e.t, res[len(qops)], "read"))
	ids := make([]string, 0, len(py))
	for id := range py {
		ids = append(ids, id)
	}
	if len(ids) != 12 {
		e.t.Fatalf("Python finds %d datasets, want 12", len(ids))
	}
	e.sameBytes("reads", readOurs(e.t, e.open(root), ids), py, ids)
	checkFinds(e, root, finds, res[len(qops)+1:])
	return ids
}

// scenarioRuns are the RUN collections of the scenario.
var scenarioRuns = []string{"u/put", "u/ingested", "u/raw", "calib/run1", "calib/run2"}

func substitute(q []string, root string) []string {
	out := make([]string, len(q))
	for i, a := range q {
		out[i] = strings.ReplaceAll(a, "{repo}", root)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// compareReads reads every dataset with both butlers: same bytes; Python's
// Butler.get (which checks the recorded size) succeeds.
func compareReads(e *env, root string, ids []string) {
	py := pyBytes(e.t, mustOK(e.t, e.py(op{"op": "read", "repo": root, "ids": ids})[0], "read"))
	e.sameBytes("reads", readOurs(e.t, e.open(root), ids), py, ids)
}

type find struct {
	typ string
	det int
	at  string // TAI time of a calibration lookup in calib; "" for a lookup in chain/outer
}

// findOps are the Python side of checkFinds: registry.findDataset through the
// nested chain, and calibration lookups at several times.
func findOps(root string) ([]op, []find) {
	var finds []find
	for d := 1; d <= 4; d++ {
		finds = append(finds, find{"cfg", d, ""})
	}
	for _, at := range []string{"2023-03-10T01:00:10", "2023-08-01T02:00:05", "2022-01-01T00:00:00"} {
		for d := 1; d <= 2; d++ {
			finds = append(finds, find{"bias", d, at})
		}
	}
	var ops []op
	for _, f := range finds {
		o := op{"op": "find", "repo": root, "type": f.typ, "data_id": map[string]any{"instrument": "Cam1", "detector": f.det}, "collections": []string{"chain/outer"}}
		if f.at != "" {
			o["collections"] = []string{"calib"}
			o["at"] = f.at
		}
		ops = append(ops, o)
	}
	return ops, finds
}

// checkFinds makes the same lookups here and compares the datasets found.
func checkFinds(e *env, root string, finds []find, res []map[string]any) {
	t := e.t
	b := e.open(root)
	for i, f := range finds {
		r := mustOK(t, res[i], "find")
		want, _ := r["id"].(string)
		id := dimensions.DataID{"instrument": "Cam1", "detector": f.det}
		var got string
		if f.at == "" {
			ref, err := b.Find(t.Context(), f.typ, id, []string{"chain/outer"})
			if err == nil {
				got = ref.ID.String()
			}
		} else {
			ns, err := timespan.ParseTAI(f.at)
			if err != nil {
				t.Fatal(err)
			}
			ts := timespan.New(ns, ns+1e9)
			ref, err := b.FindAt(t.Context(), f.typ, id, []string{"calib"}, &ts)
			if err == nil {
				got = ref.ID.String()
			}
		}
		if got != want {
			t.Errorf("find %s detector %d at %q: we find %q, Python %q", f.typ, f.det, f.at, got, want)
		}
		e.c.add("finds", 1)
	}
}

// TestOursToPython: a repository made and filled by this butler is queried
// and read by the Python butler with the same answers and bytes, and a Python
// put is read back here.
func TestOursToPython(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		root := buildOurs(e)
		compareAll(e, root)
		// Python writes into our repository; we read it back.
		res := e.py(
			op{"op": "put", "repo": root, "run": "py/new", "type": "cfg", "data_id": map[string]any{"instrument": "Cam1", "detector": 3}, "value": map[string]any{"from": "python"}},
			op{"op": "register", "repo": root, "name": "py_exposure", "dimensions": []string{"instrument", "exposure"}, "storage_class": "StructuredDataDict"},
			op{"op": "put", "repo": root, "run": "py/new", "type": "py_exposure", "data_id": map[string]any{"instrument": "Cam1", "exposure": 101}, "value": map[string]any{"exposure": 101}},
		)
		var newIDs []string
		for _, i := range []int{0, 2} {
			newIDs = append(newIDs, mustOK(t, res[i], "put")["id"].(string))
		}
		mustOK(t, res[1], "register")
		compareReads(e, root, newIDs)
		t.Run("dimensionless", func(t *testing.T) {
			e.ours("register-dataset-type", root, "dimless", "StructuredDataDict")
			f := e.writeFile("dimless.yaml", "a: 1\n")
			e.ours("put", root, "dimless", "u/dimless", f)
			r := e.py(op{"op": "query_ids", "repo": root, "types": []string{"dimless"}, "collections": []string{"u/dimless"}})
			compareReads(e, root, strs(mustOK(t, r[0], "query dimless")["ids"]))
		})
	})
}

// TestPythonToOurs: a repository made and filled by the Python butler is
// queried and read here with the same answers and bytes; we then put into a
// new RUN, register a dataset type of a new dimension group and certify into a
// new CALIBRATION collection (rows with generated IDs), and Python reads those.
func TestPythonToOurs(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		root := buildPython(e)
		compareAll(e, root)
		// We write into Python's repository; Python reads it back.
		e.ours("register-dataset-type", root, "go_exposure", "StructuredDataDict", "instrument", "exposure")
		e.ours("put", root, "go_exposure", "go/new", e.writeFile("go_exposure.yaml", "exposure: 100\n"), "--data-id", "instrument=Cam1", "--data-id", "exposure=100")
		e.ours("put", root, "bias", "go/bias", e.writeFile("go_bias.yaml", "detector: 3\n"), "--data-id", "instrument=Cam1", "--data-id", "detector=3")
		e.ours("certify-calibrations", root, "go/bias", "go/calib", "bias", "--begin-date", begin1)
		e.ours("register-dataset-type", root, "go_calib", "StructuredDataDict", "instrument", "physical_filter", "--is-calibration")
		e.ours("put", root, "go_calib", "go/bias", e.writeFile("go_calib.yaml", "filter: g\n"), "--data-id", "instrument=Cam1", "--data-id", "physical_filter=Cam1-G")
		e.ours("certify-calibrations", root, "go/bias", "go/calib", "go_calib", "--begin-date", begin1)
		r := e.py(
			op{"op": "query_ids", "repo": root, "types": []string{"go_exposure", "bias", "go_calib"}, "collections": []string{"go/new", "go/bias"}},
			op{"op": "find", "repo": root, "type": "bias", "data_id": map[string]any{"instrument": "Cam1", "detector": 3}, "collections": []string{"go/calib"}, "at": "2024-01-01T00:00:00"},
			op{"op": "find", "repo": root, "type": "go_calib", "data_id": map[string]any{"instrument": "Cam1", "physical_filter": "Cam1-G"}, "collections": []string{"go/calib"}, "at": "2024-01-01T00:00:00"},
		)
		newIDs := strs(mustOK(t, r[0], "query ids")["ids"])
		if len(newIDs) != 3 {
			t.Fatalf("Python finds %d of the 3 datasets we wrote", len(newIDs))
		}
		for i := 1; i <= 2; i++ {
			if id, _ := mustOK(t, r[i], "find")["id"].(string); id == "" {
				t.Errorf("Python's calibration lookup %d finds nothing in our certification", i)
			}
			e.c.add("finds", 1)
		}
		compareReads(e, root, newIDs)
		t.Run("dimensionless", func(t *testing.T) {
			// A pipeline's packages/config-style dataset, written by Python.
			res := e.py(
				op{"op": "register", "repo": root, "name": "py_dimless", "dimensions": []string{}, "storage_class": "StructuredDataDict"},
				op{"op": "put", "repo": root, "run": "py/dimless", "type": "py_dimless", "data_id": map[string]any{}, "value": map[string]any{"b": 2}},
			)
			mustOK(t, res[0], "register")
			compareReads(e, root, []string{mustOK(t, res[1], "put")["id"].(string)})
		})
	})
}

// transferModes are the modes both import commands take for local files.
var transferModes = []string{"copy", "link", "symlink", "hardlink", "relsymlink", "auto"}

// TestFiles: our export → Python import, Python export → our import (every
// transfer mode), then the other side reads every dataset; transfer-datasets
// from a Python-made repository, then Python reads the copy.
func TestFiles(t *testing.T) {
	pgtest.ForEachDialect(t, func(t *testing.T, dialect string) {
		e := newEnv(t, dialect)
		ours := buildOurs(e)
		py := buildPython(e)
		pexp := filepath.Join(e.dir, "py-export")
		readAll := func(root string) op {
			return op{"op": "read", "repo": root, "types": []string{"cfg", "raw", "bias"}, "collections": scenarioRuns}
		}
		res := e.py(readAll(ours), readAll(py), op{"op": "export", "repo": py, "dir": pexp, "types": []string{"cfg", "raw", "bias"},
			"collections": scenarioRuns, "extra_collections": []string{"tagged", "calib"}})
		oursByPy, pyBytesSrc := pyBytes(t, mustOK(t, res[0], "read")), pyBytes(t, mustOK(t, res[1], "read"))
		mustOK(t, res[2], "export")
		oursIDs, pyIDs := keys(oursByPy), keys(pyBytesSrc)
		if len(oursIDs) != 12 || len(pyIDs) != 12 {
			t.Fatalf("Python reads %d and %d datasets of the two scenarios, want 12", len(oursIDs), len(pyIDs))
		}
		oursBytes := readOurs(t, e.open(ours), oursIDs)
		e.sameBytes("reads", oursBytes, oursByPy, oursIDs)

		// Ours → Python.
		exp := filepath.Join(e.dir, "our-export")
		e.ours("export", ours, exp, "-d", "cfg,raw,bias", "--collections", "u/put,u/ingested,u/raw,calib/run1,calib/run2,tagged", "--include-collection", "tagged,calib")
		var ops []op
		for _, mode := range transferModes {
			root, create := e.createOp("pyimport-" + mode)
			ops = append(ops, create, op{"op": "cli", "args": []string{"import", root, exp, "--transfer", mode}}, op{"op": "read", "repo": root, "ids": oursIDs})
		}
		res = e.py(ops...)
		for i, mode := range transferModes {
			mustCLI(t, res[3*i], "create")
			mustCLI(t, res[3*i+1], "import --transfer "+mode)
			e.sameBytes("export→python-import/"+mode, oursBytes, pyBytes(t, mustOK(t, res[3*i+2], "read")), oursIDs)
		}

		// Python → ours.
		for _, mode := range transferModes {
			root := e.newOurs("import-" + mode)
			e.ours("import", root, pexp, "--transfer", mode)
			e.sameBytes("python-export→import/"+mode, readOurs(t, e.open(root), pyIDs), pyBytesSrc, pyIDs)
		}

		// transfer-datasets from the Python-made repository; Python reads the copy.
		modes := []string{"copy", "symlink"}
		ops = nil
		for _, mode := range modes {
			dst := e.newOurs("transfer-" + mode)
			e.ours("transfer-datasets", py, dst, "--collections", strings.Join(scenarioRuns, ","), "-d", "cfg,raw,bias",
				"--register-dataset-types", "--transfer-dimensions", "--transfer", mode)
			e.sameBytes("transfer-datasets/"+mode, readOurs(t, e.open(dst), pyIDs), pyBytesSrc, pyIDs)
			ops = append(ops, op{"op": "read", "repo": dst, "ids": pyIDs})
		}
		res = e.py(ops...)
		for i, mode := range modes {
			e.sameBytes("transfer-datasets→python/"+mode, pyBytesSrc, pyBytes(t, mustOK(t, res[i], "read")), pyIDs)
		}
	})
}
