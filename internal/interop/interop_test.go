package interop_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/dimensions"
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

var dialects = []string{"sqlite", "postgres"}

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
	e.ours("ingest-files", root, "cfg", "u/ingested", table, "--data-id", "instrument=Cam1", "-t", "copy")
	rows := "file,exposure,detector\n"
	for _, r := range [][2]int{{100, 1}, {100, 2}, {101, 1}} {
		e.writeFile(fmt.Sprintf("raw/raw_%d_%d.yaml", r[0], r[1]), fmt.Sprintf("exposure: %d\ndetector: %d\n", r[0], r[1]))
		rows += fmt.Sprintf("raw_%d_%d.yaml,%d,%d\n", r[0], r[1], r[0], r[1])
	}
	e.ours("ingest-files", root, "raw", "u/raw", e.writeFile("raw/files.csv", rows), "--data-id", "instrument=Cam1", "-t", "symlink")
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
	root := e.newPython("python")
	ops := []op{
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
	mustCLI(t, res[0], "import")
	put := []string{res[4]["id"].(string), res[5]["id"].(string)}
	bias := []string{res[10]["id"].(string), res[11]["id"].(string), res[12]["id"].(string)}
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

// compareQueries runs each query with both butlers and compares the rows (on
// the columns both print).
func compareQueries(e *env, root string) {
	t := e.t
	var ops []op
	for _, q := range queries {
		args := substitute(q, root)
		ops = append(ops, op{"op": "cli", "args": args})
	}
	res := e.py(ops...)
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

func substitute(q []string, root string) []string {
	out := make([]string, len(q))
	for i, a := range q {
		out[i] = strings.ReplaceAll(a, "{repo}", root)
	}
	return out
}

// allIDs lists every dataset of the scenario's types in the repository (Python's view).
func allIDs(e *env, root string) []string {
	r := mustOK(e.t, e.py(op{"op": "query_ids", "repo": root, "types": []string{"cfg", "raw", "bias"}, "collections": []string{"u/put", "u/ingested", "u/raw", "calib/run1", "calib/run2"}})[0], "query ids")
	ids := strs(r["ids"])
	if len(ids) != 12 {
		e.t.Fatalf("Python finds %d datasets, want 12", len(ids))
	}
	return ids
}

// compareReads reads every dataset with both butlers: same bytes; Python's
// Butler.get (which checks the recorded size) succeeds.
func compareReads(e *env, root string, ids []string) {
	py := pyBytes(e.t, mustOK(e.t, e.py(op{"op": "read", "repo": root, "ids": ids})[0], "read"))
	e.sameBytes("reads", readOurs(e.t, e.open(root), ids), py, ids)
}

// compareFinds compares registry.findDataset (through the nested chain) and
// calibration lookups at several times with ours.
func compareFinds(e *env, root string) {
	t := e.t
	b := e.open(root)
	type find struct {
		typ string
		det int
		at  string
	}
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
	res := e.py(ops...)
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
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, dialect)
			root := buildOurs(e)
			compareQueries(e, root)
			ids := allIDs(e, root)
			compareReads(e, root, ids)
			compareFinds(e, root)
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
				t.Skip("needs #12.1 dimensionless fix")
				e.ours("register-dataset-type", root, "dimless", "StructuredDataDict")
				f := e.writeFile("dimless.yaml", "a: 1\n")
				e.ours("put", root, "dimless", "u/dimless", f)
				r := e.py(op{"op": "query_ids", "repo": root, "types": []string{"dimless"}, "collections": []string{"u/dimless"}})
				compareReads(e, root, strs(mustOK(t, r[0], "query dimless")["ids"]))
			})
		})
	}
}

// TestPythonToOurs: a repository made and filled by the Python butler is
// queried and read here with the same answers and bytes; we then put into a
// new RUN, register a dataset type of a new dimension group and certify into a
// new CALIBRATION collection (rows with generated IDs), and Python reads those.
func TestPythonToOurs(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, dialect)
			root := buildPython(e)
			compareQueries(e, root)
			ids := allIDs(e, root)
			compareReads(e, root, ids)
			compareFinds(e, root)
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
		})
	}
}

// transferModes are the modes both import commands take for local files.
var transferModes = []string{"copy", "link", "symlink", "hardlink", "relsymlink", "auto"}

// TestFiles: our export → Python import, Python export → our import (every
// transfer mode), then the other side reads every dataset; transfer-datasets
// from a Python-made repository, then Python reads the copy.
func TestFiles(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, dialect)
			ours := buildOurs(e)
			py := buildPython(e)
			oursIDs, pyIDs := allIDs(e, ours), allIDs(e, py)
			oursBytes := readOurs(t, e.open(ours), oursIDs)
			pyRes := e.py(op{"op": "read", "repo": py, "ids": pyIDs})
			pyBytesSrc := pyBytes(t, mustOK(t, pyRes[0], "read"))

			// Ours → Python.
			exp := filepath.Join(e.dir, "our-export")
			e.ours("export", ours, exp, "-d", "cfg,raw,bias", "--collections", "u/put,u/ingested,u/raw,calib/run1,calib/run2,tagged", "--include-collection", "tagged,calib")
			var ops []op
			var roots []string
			for _, mode := range transferModes {
				root := e.newPython("pyimport-" + mode)
				roots = append(roots, root)
				ops = append(ops, op{"op": "cli", "args": []string{"import", root, exp, "--transfer", mode}}, op{"op": "read", "repo": root, "ids": oursIDs})
			}
			res := e.py(ops...)
			for i, mode := range transferModes {
				mustCLI(t, res[2*i], "import --transfer "+mode)
				e.sameBytes("export→python-import/"+mode, oursBytes, pyBytes(t, mustOK(t, res[2*i+1], "read")), oursIDs)
			}

			// Python → ours.
			pexp := filepath.Join(e.dir, "py-export")
			mustOK(t, e.py(op{"op": "export", "repo": py, "dir": pexp, "types": []string{"cfg", "raw", "bias"},
				"collections": []string{"u/put", "u/ingested", "u/raw", "calib/run1", "calib/run2"}, "extra_collections": []string{"tagged", "calib"}})[0], "export")
			for _, mode := range transferModes {
				root := e.newOurs("import-" + mode)
				e.ours("import", root, pexp, "--transfer", mode)
				e.sameBytes("python-export→import/"+mode, readOurs(t, e.open(root), pyIDs), pyBytesSrc, pyIDs)
			}

			// transfer-datasets from the Python-made repository; Python reads the copy.
			for _, mode := range []string{"copy", "symlink"} {
				dst := e.newOurs("transfer-" + mode)
				e.ours("transfer-datasets", py, dst, "--collections", "u/put,u/ingested,u/raw,calib/run1,calib/run2", "-d", "cfg,raw,bias",
					"--register-dataset-types", "--transfer-dimensions", "--transfer", mode)
				r := e.py(op{"op": "read", "repo": dst, "ids": pyIDs})
				e.sameBytes("transfer-datasets→python/"+mode, readOurs(t, e.open(dst), pyIDs), pyBytes(t, mustOK(t, r[0], "read")), pyIDs)
				e.sameBytes("transfer-datasets-source/"+mode, pyBytesSrc, pyBytes(t, mustOK(t, r[0], "read")), pyIDs)
			}
		})
	}
}
