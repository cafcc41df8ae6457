// Command gen writes internal/camgeom/data/*.json, the nominal camera
// geometry of the LSST instruments, from obs_lsst's camera policy.
//
//	go run ./internal/camgeom/gen -obs-lsst /path/to/obs_lsst [-rev HEAD] [-out internal/camgeom/data]
//
// -obs-lsst is either a checkout (a directory holding policy/) or a bare git
// directory, read at -rev. The geometry is assembled the way obs_lsst's
// generateCamera.py assembles policy/<camera>.yaml (search path
// policy/<camera>, policy/lsstCam, policy; raft templates from
// cameraHeader.yaml; per-raft offsets, raft yaw and geometryWithinRaft; the
// offsets and yaws written with %g) and read the way obs_base's yamlCamera
// reads that file. Two facts come from Python rather than policy: the raw
// formatter's wcsFlipX (python/lsst/obs/lsst/rawFormatter.py) and the
// define-visits padding (config/[<camera>/]defineVisits.py, else obs_base's
// default of 250 pixels).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gobutler/butler/internal/camgeom"
	"go.yaml.in/yaml/v3"
)

// cameras lists what is generated: the instrument name (as registered), its
// obs_lsst policy directory name (the Instrument class's policyName) and its
// raw formatter class (the Instrument class's getRawFormatter).
var cameras = []struct {
	instrument, policy, formatter string
}{
	{"LSSTCam", "lsstCam", "LsstCamRawFormatter"},
	{"LSSTComCam", "comCam", "LsstComCamRawFormatter"},
	{"LSSTComCamSim", "comCamSim", "LsstComCamSimRawFormatter"},
	{"LSSTCamSim", "lsstCamSim", "LsstCamSimRawFormatter"},
	{"LSSTCam-imSim", "imsim", "LsstCamImSimRawFormatter"},
	{"LSSTCam-PhoSim", "phosim", "LsstCamPhoSimRawFormatter"},
	{"LATISS", "latiss", "LatissRawFormatter"},
}

// defaultPadding is obs_base's ComputeVisitRegionsConfig.padding default.
const defaultPadding = 250

// raftNameMap renames the corner wavefront raft files to their raft names,
// as generateCamera.py does.
var raftNameMap = map[string]string{"R00W": "R00", "R44W": "R44", "R04W": "R04", "R40W": "R40"}

// Camera and Detector are the embedded data format, shared with the reader.
type (
	Camera   = camgeom.File
	Detector = camgeom.FileDetector
)

func main() {
	obsLsst := flag.String("obs-lsst", "", "obs_lsst checkout or bare git directory (required)")
	rev := flag.String("rev", "HEAD", "revision to read when -obs-lsst is a git directory")
	out := flag.String("out", "data", "output directory")
	flag.Parse()
	if *obsLsst == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*obsLsst, *rev, *out); err != nil {
		fmt.Fprintln(os.Stderr, "camgeom/gen:", err)
		os.Exit(1)
	}
}

func run(obsLsst, rev, out string) error {
	src, err := openSource(obsLsst, rev)
	if err != nil {
		return err
	}
	flips, err := formatterFlips(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, c := range cameras {
		cam, err := build(src, c.instrument, c.policy)
		if err != nil {
			return fmt.Errorf("%s: %w", c.instrument, err)
		}
		flip, ok := flips[c.formatter]
		if !ok {
			return fmt.Errorf("%s: raw formatter class %s not found in rawFormatter.py", c.instrument, c.formatter)
		}
		if cam.FocalPlaneParity && !flip {
			// obs_base's createInitialSkyWcsFromBoresight refuses this.
			return fmt.Errorf("%s: camera has focalPlaneParity but %s does not set wcsFlipX", c.instrument, c.formatter)
		}
		cam.WcsFlipX = flip
		if cam.DefaultPadding, err = padding(src, c.policy); err != nil {
			return fmt.Errorf("%s: %w", c.instrument, err)
		}
		b, err := cam.Encode()
		if err != nil {
			return err
		}
		name := filepath.Join(out, c.instrument+".json")
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d detectors\n", name, len(cam.Detectors))
	}
	return nil
}

// source reads files of obs_lsst by slash path relative to its root.
type source struct {
	desc  string
	read  func(name string) ([]byte, error)
	files map[string]bool // every file, for the search path
}

func openSource(dir, rev string) (*source, error) {
	if st, err := os.Stat(filepath.Join(dir, "policy")); err == nil && st.IsDir() {
		s := &source{desc: "obs_lsst checkout " + dir, files: map[string]bool{}}
		s.read = func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, filepath.FromSlash(name))) }
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				rel, _ := filepath.Rel(dir, p)
				s.files[filepath.ToSlash(rel)] = true
			}
			return nil
		})
		return s, err
	}
	git := func(args ...string) ([]byte, error) {
		cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return b, nil
	}
	commit, err := git("rev-parse", "--verify", rev+"^{commit}")
	if err != nil {
		return nil, fmt.Errorf("%s is neither an obs_lsst checkout (no policy/) nor a git directory: %w", dir, err)
	}
	c := strings.TrimSpace(string(commit))
	list, err := git("ls-tree", "-r", c)
	if err != nil {
		return nil, err
	}
	s := &source{desc: "obs_lsst commit " + c, files: map[string]bool{}}
	links := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		// "<mode> <type> <object>\t<path>"
		meta, name, ok := strings.Cut(line, "\t")
		if !ok {
			return nil, fmt.Errorf("git ls-tree: unexpected line %q", line)
		}
		s.files[name] = true
		links[name] = strings.HasPrefix(meta, "120000 ")
	}
	s.read = func(name string) ([]byte, error) {
		// Follow symbolic links (policy/lsstCamSim links to lsstCam's rafts).
		for range 10 {
			b, err := git("cat-file", "blob", c+":"+name)
			if err != nil || !links[name] {
				return b, err
			}
			name = path.Join(path.Dir(name), string(b))
		}
		return nil, fmt.Errorf("%s: too many levels of symbolic links", name)
	}
	return s, nil
}

// find returns the first of policy/<camera>/name, policy/lsstCam/name,
// policy/name that exists (generateCamera's search path), or "".
func (s *source) find(policy, name string) string {
	for _, d := range []string{"policy/" + policy, "policy/lsstCam", "policy"} {
		if p := d + "/" + name; s.files[p] {
			return p
		}
	}
	return ""
}

func (s *source) yaml(policy, name string) (map[string]any, string, error) {
	p := s.find(policy, name)
	if p == "" {
		return nil, "", fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	b, err := s.read(p)
	if err != nil {
		return nil, p, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, p, fmt.Errorf("%s: %w", p, err)
	}
	return m, p, nil
}

// build assembles one camera as generateCamera.py + yamlCamera.makeCamera do.
func build(src *source, instrument, policy string) (*Camera, error) {
	header, headerPath, err := src.yaml(policy, "cameraHeader.yaml")
	if err != nil {
		return nil, err
	}
	transforms, transformsPath, err := src.yaml(policy, "cameraTransforms.yaml")
	if err != nil {
		return nil, err
	}
	raftsDoc, raftsPath, err := src.yaml(policy, "rafts.yaml")
	if err != nil {
		return nil, err
	}
	// rafts.yaml's order is the file order; only ids matter, but keep it.
	raftOrder, err := mappingKeys(src, raftsPath, "rafts")
	if err != nil {
		return nil, err
	}
	name, _ := header["name"].(string)
	if nm, _, err := src.yaml(policy, "name.yaml"); err == nil {
		name, _ = nm["name"].(string)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if name != instrument {
		// obs_lsst's getCamera raises on this mismatch too.
		return nil, fmt.Errorf("camera name %q (from %s or name.yaml) is not the instrument name", name, headerPath)
	}
	cam := &Camera{Instrument: instrument, Source: src.desc}
	if cam.PlateScale, err = num(transforms["plateScale"]); err != nil {
		return nil, fmt.Errorf("%s: plateScale: %w", transformsPath, err)
	}
	if v, ok := transforms["focalPlaneParity"]; ok {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s: focalPlaneParity %v is not a boolean", transformsPath, v)
		}
		cam.FocalPlaneParity = b
	}
	tr, _ := transforms["transforms"].(map[string]any)
	if ns, _ := tr["nativeSys"].(string); ns != "FocalPlane" {
		return nil, fmt.Errorf("%s: transforms.nativeSys %q is not FocalPlane", transformsPath, ns)
	}
	fa, _ := tr["FieldAngle"].(map[string]any)
	if t, _ := fa["transformType"].(string); t != "radial" {
		return nil, fmt.Errorf("%s: FieldAngle transformType %q is not radial", transformsPath, t)
	}
	if cam.RadialCoeffs, err = nums(fa["coeffs"]); err != nil {
		return nil, fmt.Errorf("%s: FieldAngle coeffs: %w", transformsPath, err)
	}
	if c := cam.RadialCoeffs; len(c) < 2 || c[0] != 0 || c[1] == 0 {
		// afw's makeRadialTransform requires this.
		return nil, fmt.Errorf("%s: FieldAngle coeffs %v: need c0 = 0 and c1 != 0", transformsPath, c)
	}

	rafts, _ := raftsDoc["rafts"].(map[string]any)
	seen := map[int]string{}
	for _, raftName := range raftOrder {
		perRaft, _ := rafts[raftName].(map[string]any)
		raftDoc, raftPath, err := src.yaml(policy, raftName+".yaml")
		if errors.Is(err, fs.ErrNotExist) {
			continue // generateCamera skips rafts without a description
		} else if err != nil {
			return nil, err
		}
		raft, ok := raftDoc[raftName].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: no top-level %s", raftPath, raftName)
		}
		detType, _ := raft["detectorType"].(string)
		tmpl, _ := header["RAFT_"+detType].(map[string]any)
		ccdTmpls, _ := tmpl["ccds"].(map[string]any)
		if ccdTmpls == nil {
			return nil, fmt.Errorf("%s: no RAFT_%s in %s", raftPath, detType, headerPath)
		}
		sensorTypes, _ := raft["sensorTypes"].(map[string]any)
		geomWithin, _ := raft["geometryWithinRaft"].(map[string]any)
		raftOffset, err := nums(perRaft["offset"])
		if err != nil || len(raftOffset) < 2 {
			return nil, fmt.Errorf("%s: rafts.%s.offset: %v", raftsPath, raftName, err)
		}
		raftOffset = pad3(raftOffset)
		id0, err := integer(perRaft["id0"])
		if err != nil {
			return nil, fmt.Errorf("%s: rafts.%s.id0: %w", raftsPath, raftName, err)
		}
		raftYaw := 0.0
		if v, ok := perRaft["yaw"]; ok {
			if raftYaw, err = num(v); err != nil {
				return nil, fmt.Errorf("%s: rafts.%s.yaw: %w", raftsPath, raftName, err)
			}
		}
		ccdNames, err := mappingKeys(src, raftPath, raftName, "ccdSerials")
		if err != nil {
			return nil, err
		}
		for _, ccdName := range ccdNames {
			layout, ok := ccdTmpls[ccdName].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: CCD %s is not in RAFT_%s", raftPath, ccdName, detType)
			}
			d, err := detector(layout)
			if err != nil {
				return nil, fmt.Errorf("%s: %s (RAFT_%s template): %w", raftPath, ccdName, detType, err)
			}
			local, err := nums(layout["offset"])
			if err != nil || len(local) < 2 {
				return nil, fmt.Errorf("%s: RAFT_%s.%s offset: %v", headerPath, detType, ccdName, err)
			}
			local = pad3(local)
			doffset := []float64{0, 0, 0}
			if g, ok := geomWithin[ccdName].(map[string]any); ok {
				if doffset, err = nums(g["offset"]); err != nil || len(doffset) < 2 {
					return nil, fmt.Errorf("%s: geometryWithinRaft.%s.offset: %v", raftPath, ccdName, err)
				}
				doffset = pad3(doffset)
				yaw, err := num(g["yaw"])
				if err != nil {
					return nil, fmt.Errorf("%s: geometryWithinRaft.%s.yaw: %w", raftPath, ccdName, err)
				}
				// Only CCDs with geometryWithinRaft get the raft yaw added
				// to their own (generateCamera writes no yaw otherwise).
				d.Yaw = g6(yaw + raftYaw)
			}
			o := applyRaftYaw([]float64{local[0] + doffset[0], local[1] + doffset[1], local[2] + doffset[2]}, raftYaw)
			d.Offset = [3]float64{g6(o[0] + raftOffset[0]), g6(o[1] + raftOffset[1]), g6(o[2] + raftOffset[2])}
			lid, err := integer(layout["id"])
			if err != nil {
				return nil, fmt.Errorf("%s: RAFT_%s.%s id: %w", headerPath, detType, ccdName, err)
			}
			d.ID = id0 + lid
			d.Name = raftName + "_" + ccdName
			if n, ok := raftNameMap[raftName]; ok {
				d.Name = n + "_" + ccdName
			}
			d.PhysicalType = detType
			if st, ok := sensorTypes[ccdName]; ok {
				if d.Type, err = integer(st); err != nil {
					return nil, fmt.Errorf("%s: sensorTypes.%s: %w", raftPath, ccdName, err)
				}
			}
			if prev, dup := seen[d.ID]; dup {
				return nil, fmt.Errorf("%s: detector id %d of %s already used by %s", raftPath, d.ID, d.Name, prev)
			}
			seen[d.ID] = d.Name
			cam.Detectors = append(cam.Detectors, d)
		}
	}
	if len(cam.Detectors) == 0 {
		return nil, fmt.Errorf("no detectors")
	}
	slices.SortFunc(cam.Detectors, func(a, b Detector) int { return a.ID - b.ID })
	return cam, nil
}

// detector reads the yamlCamera fields of a CCD template.
func detector(m map[string]any) (Detector, error) {
	var d Detector
	var err error
	if d.Type, err = integer(m["detectorType"]); err != nil {
		return d, fmt.Errorf("detectorType: %w", err)
	}
	bb, ok := m["bbox"].([]any)
	if !ok || len(bb) != 2 {
		return d, fmt.Errorf("bbox %v is not [[x0, y0], [x1, y1]]", m["bbox"])
	}
	for i, c := range bb {
		xy, ok := c.([]any)
		if !ok || len(xy) != 2 {
			return d, fmt.Errorf("bbox %v is not [[x0, y0], [x1, y1]]", m["bbox"])
		}
		for j := range 2 {
			if d.BBox[2*i+j], err = integer(xy[j]); err != nil {
				return d, fmt.Errorf("bbox: %w", err)
			}
		}
	}
	if d.BBox[2] < d.BBox[0] || d.BBox[3] < d.BBox[1] {
		return d, fmt.Errorf("bbox %v is empty", m["bbox"])
	}
	if err := pair(m["pixelSize"], &d.PixelSize); err != nil {
		return d, fmt.Errorf("pixelSize: %w", err)
	}
	if err := pair(m["refpos"], &d.RefPos); err != nil {
		return d, fmt.Errorf("refpos: %w", err)
	}
	if tp, _ := m["transposeDetector"].(bool); tp {
		return d, fmt.Errorf("transposeDetector is not supported")
	}
	if tdict, _ := m["transformDict"].(map[string]any); tdict != nil {
		if t, ok := tdict["transforms"]; ok && t != nil && t != "None" {
			return d, fmt.Errorf("per-detector transforms are not supported")
		}
	}
	for _, f := range []struct {
		key string
		dst *float64
	}{{"yaw", &d.Yaw}, {"pitch", &d.Pitch}, {"roll", &d.Roll}} {
		if *f.dst, err = num(m[f.key]); err != nil {
			return d, fmt.Errorf("%s: %w", f.key, err)
		}
	}
	return d, nil
}

func applyRaftYaw(o []float64, yaw float64) []float64 {
	if yaw == 0 {
		return o
	}
	// numpy's np.radians: deg * (pi / 180).
	s, c := math.Sincos(yaw * (math.Pi / 180))
	return []float64{c*o[0] - s*o[1], s*o[0] + c*o[1], o[2]}
}

// g6 rounds like Python's "%g" (6 significant digits), which is how
// generateCamera.py writes offsets and yaws into the camera YAML.
func g6(v float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if err != nil {
		panic(err)
	}
	return r
}

func pad3(v []float64) []float64 {
	if len(v) == 2 {
		return []float64{v[0], v[1], 0}
	}
	return v
}

func num(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("%v (%T) is not a number", v, v)
}

func integer(v any) (int, error) {
	if x, ok := v.(int); ok {
		return x, nil
	}
	return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
}

func nums(v any) ([]float64, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%v (%T) is not a list", v, v)
	}
	out := make([]float64, len(l))
	for i, x := range l {
		f, err := num(x)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

func pair(v any, dst *[2]float64) error {
	l, err := nums(v)
	if err != nil {
		return err
	}
	if len(l) != 2 {
		return fmt.Errorf("%v does not have 2 elements", v)
	}
	dst[0], dst[1] = l[0], l[1]
	return nil
}

// mappingKeys returns the keys of the mapping at keyPath of a YAML file in
// file order (a Go map loses it).
func mappingKeys(src *source, file string, keyPath ...string) ([]string, error) {
	b, err := src.read(file)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, k := range keyPath {
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
		}
		if next == nil {
			return nil, fmt.Errorf("%s: no mapping %s", file, strings.Join(keyPath, "."))
		}
		n = next
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: %s is not a mapping", file, strings.Join(keyPath, "."))
	}
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys, nil
}

var (
	classRE = regexp.MustCompile(`^class\s+(\w+)\s*\(\s*([\w.]+)\s*\)\s*:`)
	flipRE  = regexp.MustCompile(`^\s+wcsFlipX\s*=\s*(True|False)\b`)
	padRE   = regexp.MustCompile(`^config\.computeVisitRegions\.active\.padding\s*=\s*(\d+)\s*(#.*)?$`)
)

// formatterFlips reads the wcsFlipX of every raw formatter class in
// rawFormatter.py, following base classes within the file (obs_base's
// FitsRawFormatterBase default is False).
func formatterFlips(src *source) (map[string]bool, error) {
	const file = "python/lsst/obs/lsst/rawFormatter.py"
	b, err := src.read(file)
	if err != nil {
		return nil, err
	}
	base := map[string]string{}
	own := map[string]bool{}
	var cur string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if m := classRE.FindStringSubmatch(line); m != nil {
			cur = m[1]
			base[cur] = m[2]
			continue
		}
		if line != "" && line[0] != ' ' && line[0] != '\t' && line[0] != '#' {
			cur = ""
		}
		if m := flipRE.FindStringSubmatch(line); m != nil && cur != "" {
			own[cur] = m[1] == "True"
		}
	}
	out := map[string]bool{}
	for c := range base {
		for k := c; ; {
			if v, ok := own[k]; ok {
				out[c] = v
				break
			}
			b, ok := base[k]
			if !ok {
				out[c] = false
				break
			}
			k = b
		}
	}
	return out, nil
}

// padding reads define-visits' region padding from obs_lsst's config
// overrides (config/defineVisits.py, then config/<camera>/defineVisits.py,
// the instrument's configPaths order, the last assignment winning).
func padding(src *source, policy string) (int, error) {
	p := defaultPadding
	for _, f := range []string{"config/defineVisits.py", "config/" + policy + "/defineVisits.py"} {
		if !src.files[f] {
			continue
		}
		b, err := src.read(f)
		if err != nil {
			return 0, err
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if m := padRE.FindStringSubmatch(line); m != nil {
				if p, err = strconv.Atoi(m[1]); err != nil {
					return 0, fmt.Errorf("%s:%d: %w", f, i+1, err)
				}
			} else if strings.Contains(line, "padding") && !strings.HasPrefix(line, "#") {
				return 0, fmt.Errorf("%s:%d: padding setting not understood: %s", f, i+1, line)
			}
		}
	}
	return p, nil
}
