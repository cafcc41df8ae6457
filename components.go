package butler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/config"
	"github.com/gobutler/butler/internal/fits"
	"github.com/gobutler/butler/internal/obsinfo"
	"go.yaml.in/yaml/v3"
)

// Metadata is the header of a FITS-backed dataset as a mapping, keys in file
// order: what the metadata component (a PropertyList upstream) holds. Values are
// string, int64, float64, bool or nil; COMMENT and HISTORY are lists of strings.
type Metadata []MetadataEntry

// MetadataEntry is one key of a Metadata.
type MetadataEntry struct {
	Key   string
	Value any
}

// Get returns the value of key.
func (m Metadata) Get(key string) (any, bool) {
	for _, e := range m {
		if e.Key == key {
			return e.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes a JSON object with the keys in order.
func (m Metadata) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.Value)
		if err != nil {
			return nil, fmt.Errorf("metadata key %s: %w", e.Key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalYAML writes a YAML mapping with the keys in order.
func (m Metadata) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range m {
		var v yaml.Node
		if err := v.Encode(e.Value); err != nil {
			return nil, fmt.Errorf("metadata key %s: %w", e.Key, err)
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.Key}, &v)
	}
	return n, nil
}

// Point is an integer pixel position (lsst.geom.Point2I).
type Point struct {
	X int64 `json:"x" yaml:"x"`
	Y int64 `json:"y" yaml:"y"`
}

// Extent is an integer pixel size (lsst.geom.Extent2I), the dimensions component.
type Extent struct {
	X int64 `json:"x" yaml:"x"`
	Y int64 `json:"y" yaml:"y"`
}

// Box is an integer pixel box with inclusive corners (lsst.geom.Box2I), the
// bbox component.
type Box struct {
	Minimum Point `json:"minimum" yaml:"minimum"`
	Maximum Point `json:"maximum" yaml:"maximum"`
}

// Dimensions is the size of the box.
func (b Box) Dimensions() Extent {
	return Extent{b.Maximum.X - b.Minimum.X + 1, b.Maximum.Y - b.Minimum.Y + 1}
}

// readableComponents are the components of Exposure-like storage classes this
// butler computes from FITS headers, without reading pixels.
var readableComponents = []string{"bbox", "dimensions", "metadata", "xy0"}

// component checks that comp is a component of the dataset type's storage
// class and that this butler can read it; it returns the component's storage
// class. An unknown component is errs.ErrInvalid naming the valid ones; a
// known one this butler cannot compute is errs.ErrUnsupported.
func (b *Butler) component(t dataset.Type, comp string) (string, error) {
	parent, _ := dataset.SplitComponent(t.Name)
	def, ok := b.storageClasses()[t.StorageClass]
	if !ok {
		return "", fmt.Errorf("dataset type %s: %w: storage class %s is not defined in this repository, so its components are unknown",
			parent, errs.ErrInvalid, t.StorageClass)
	}
	sc, ok := def.Components[comp]
	if !ok {
		sc, ok = def.DerivedComponents[comp]
	}
	if !ok {
		valid := slices.Sorted(maps.Keys(def.Components))
		valid = append(valid, slices.Sorted(maps.Keys(def.DerivedComponents))...)
		if len(valid) == 0 {
			return "", fmt.Errorf("dataset type %s: %w: storage class %s has no components (asked for %q)", parent, errs.ErrInvalid, t.StorageClass, comp)
		}
		slices.Sort(valid)
		return "", fmt.Errorf("dataset type %s: %w: storage class %s has no component %q; valid components: %s",
			parent, errs.ErrInvalid, t.StorageClass, comp, strings.Join(valid, ", "))
	}
	if !b.isExposure(t.StorageClass) {
		return "", fmt.Errorf("dataset type %s: %w: component %s of storage class %s is not readable by this butler",
			parent, errs.ErrUnsupported, comp, t.StorageClass)
	}
	if !slices.Contains(readableComponents, comp) {
		return "", fmt.Errorf("dataset type %s: %w: component %s of storage class %s is not readable by this butler (it reads %s)",
			parent, errs.ErrUnsupported, comp, t.StorageClass, strings.Join(readableComponents, ", "))
	}
	return sc, nil
}

// storageClasses returns the repository's storage classes. A remote
// repository's are the packaged defaults, as upstream's remote client uses
// its own; they are read when a component first needs them, not at every
// open (0.4 ms).
func (b *Butler) storageClasses() map[string]config.StorageClassDef {
	b.remoteClasses.Do(func() {
		if b.storageCls != nil || !b.IsRemote() {
			return
		}
		if defs, err := config.Defaults(nil); err == nil {
			b.storageCls, _ = config.StorageClasses(defs)
		}
	})
	return b.storageCls
}

// isExposure reports whether the storage class is Exposure or inherits from it.
func (b *Butler) isExposure(name string) bool {
	for range 32 { // an inheritsFrom cycle is refused when the classes are read
		if name == "Exposure" {
			return true
		}
		def, ok := b.storageClasses()[name]
		if !ok || def.InheritsFrom == "" {
			return false
		}
		name = def.InheritsFrom
	}
	return false
}

// Components returns the components a dataset type's storage class has (its
// stored and derived components, sorted) and the ones this butler can read.
func (b *Butler) Components(ctx context.Context, typeName string) (all, readable []string, err error) {
	parent, _ := dataset.SplitComponent(typeName)
	t, err := b.be.datasetType(ctx, parent)
	if err != nil {
		return nil, nil, err
	}
	def := b.storageClasses()[t.StorageClass]
	all = slices.Sorted(maps.Keys(def.Components))
	all = append(all, slices.Sorted(maps.Keys(def.DerivedComponents))...)
	slices.Sort(all)
	for _, c := range all {
		if _, err := b.component(t, c); err == nil {
			readable = append(readable, c)
		}
	}
	return all, readable, nil
}

// GetComponent finds the parent dataset of a component dataset type name
// ("raw.metadata") and computes the component: a Metadata, a Box (bbox), an
// Extent (dimensions) or a Point (xy0). The returned ref is the component's:
// its type is named parent.component with the component's storage class. A
// component the storage class does not have is errs.ErrInvalid naming the
// valid ones; one this butler cannot compute is errs.ErrUnsupported.
func (b *Butler) GetComponent(ctx context.Context, typeName string, dataID dimensions.DataID, collections []string) (any, dataset.Ref, error) {
	parent, comp := dataset.SplitComponent(typeName)
	if !isComponent(typeName) {
		return nil, dataset.Ref{}, fmt.Errorf("get component of %s: %w: not a component dataset type name (want parent.component)", typeName, errs.ErrInvalid)
	}
	t, err := b.be.datasetType(ctx, parent)
	if err != nil {
		return nil, dataset.Ref{}, err
	}
	if _, err := b.component(t, comp); err != nil {
		return nil, dataset.Ref{}, err
	}
	ref, err := b.Find(ctx, parent, dataID, collections)
	if err != nil {
		return nil, ref, err
	}
	v, err := b.ComponentOf(ctx, ref, comp)
	if err != nil {
		return nil, ref, err
	}
	return v, componentRef(ref, comp, b.storageClasses()), nil
}

// componentRef is the ref of a component of a parent dataset.
func componentRef(ref dataset.Ref, comp string, scs map[string]config.StorageClassDef) dataset.Ref {
	def := scs[ref.Type.StorageClass]
	sc, ok := def.Components[comp]
	if !ok {
		sc = def.DerivedComponents[comp]
	}
	parent, _ := dataset.SplitComponent(ref.Type.Name)
	ref.Type.Name = parent + "." + comp
	ref.Type.StorageClass = sc
	return ref
}

// ComponentOf computes a component of a resolved (parent) dataset: "metadata"
// gives a Metadata, "bbox" a Box, "dimensions" an Extent and "xy0" a Point,
// all from the file's FITS headers. Other components are errors (see
// Components).
func (b *Butler) ComponentOf(ctx context.Context, ref dataset.Ref, comp string) (any, error) {
	t := ref.Type
	t.Name, _ = dataset.SplitComponent(t.Name)
	if _, err := b.component(t, comp); err != nil {
		return nil, err
	}
	arts, err := b.be.artifacts(ctx, []dataset.ID{ref.ID})
	if err != nil {
		return nil, err
	}
	rs := arts[ref.ID]
	if len(rs) != 1 {
		if len(rs) == 0 {
			return nil, fmt.Errorf("dataset %s: %w: it has no file in the datastore", ref, errs.ErrNotFound)
		}
		return nil, fmt.Errorf("dataset %s: %w: component %s of a dataset stored as %d component files", ref, errs.ErrUnsupported, comp, len(rs))
	}
	hdrs, err := b.readHeaders(ctx, rs[0])
	if err != nil {
		return nil, fmt.Errorf("read component %s of %s: %w", comp, ref, err)
	}
	raw := strings.Contains(rs[0].Formatter, "RawFormatter")
	switch comp {
	case "metadata":
		return exposureMetadata(hdrs, raw, rs[0].Formatter), nil
	default:
		box, err := exposureBox(hdrs, raw)
		if err != nil {
			return nil, fmt.Errorf("read component %s of %s (%s): %w", comp, ref, rs[0].name(), err)
		}
		switch comp {
		case "bbox":
			return box, nil
		case "dimensions":
			return box.Dimensions(), nil
		default: // xy0
			return box.Minimum, nil
		}
	}
}

// componentBytes reads the component a ref's type names ("raw.metadata",
// with the parent's ID) as YAML.
func (b *Butler) componentBytes(ctx context.Context, ref dataset.Ref) ([]byte, error) {
	parent, comp := dataset.SplitComponent(ref.Type.Name)
	pref := ref
	if pt, err := b.be.datasetType(ctx, parent); err == nil {
		pref.Type = pt
	}
	v, err := b.ComponentOf(ctx, pref, comp)
	if err != nil {
		return nil, err
	}
	return componentYAML(v)
}

// readHeaders reads every header of a stored FITS file. The data units are
// skipped when the file is local; a file read through a server is read in
// ranges, header by header, when its size is known.
func (b *Butler) readHeaders(ctx context.Context, a Artifact) ([]*fits.Header, error) {
	rc, err := b.be.openArtifact(ctx, a, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var (
		r    io.ReaderAt
		size int64
	)
	switch f, ok := rc.(*os.File); {
	case ok:
		fi, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", a.name(), err)
		}
		r, size = f, fi.Size()
	case a.auth != "" && a.FileSize > 0:
		ar := &artifactReader{ctx: ctx, b: b, a: a, first: rc}
		defer ar.close()
		r, size = ar, a.FileSize
	default:
		data, err := io.ReadAll(rc)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", a.name(), err)
		}
		r, size = bytes.NewReader(data), int64(len(data))
	}
	hdrs, err := fits.ReadHeaders(r, size, 0)
	if err != nil {
		return nil, fmt.Errorf("read FITS headers of %s: %w", a.name(), err)
	}
	return hdrs, nil
}

// artifactReader reads a remote artifact at offsets: sequential reads go on
// with the open stream, a jump (past a data unit) opens a new one there, so
// the headers of a large raw cost a few small requests, not the whole file.
type artifactReader struct {
	ctx   context.Context
	b     *Butler
	a     Artifact
	first io.ReadCloser // the stream opened at 0, closed by the caller
	rc    io.ReadCloser // the current stream, at pos
	owned bool          // rc is closed here (it is not first)
	pos   int64
}

func (r *artifactReader) close() {
	if r.rc != nil && r.owned {
		r.rc.Close()
	}
	r.rc = nil
}

func (r *artifactReader) ReadAt(p []byte, off int64) (int, error) {
	if r.rc == nil && off == 0 && r.first != nil {
		r.rc, r.first = r.first, nil // the caller still closes it
		r.owned = false
	}
	if r.rc == nil || off != r.pos {
		r.close()
		rc, err := r.b.be.openArtifact(r.ctx, r.a, off)
		if err != nil {
			return 0, err
		}
		r.rc, r.pos, r.owned = rc, off, true
	}
	n, err := io.ReadFull(r.rc, p)
	r.pos += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// exposureMetadata is the metadata component of a FITS exposure. For a raw it
// is what obs_lsst's raw formatter returns: the primary header merged with
// the REB_COND and CONFIG_COND extension headers (keys already present win),
// corrected as ingest corrects it, with the WCS keys stripped when there is a
// WCS. Otherwise it is what afw's readMetadata returns: the primary header,
// merged with the first extension's when the primary holds no image.
func exposureMetadata(hdrs []*fits.Header, raw bool, formatter string) Metadata {
	var m Metadata
	index := map[string]int{}
	add := func(h *fits.Header, override bool) {
		for _, c := range h.Cards {
			switch c.Key {
			case "":
				continue
			case "COMMENT", "HISTORY":
				i, ok := index[c.Key]
				if !ok {
					index[c.Key] = len(m)
					m = append(m, MetadataEntry{c.Key, []string{c.Comment}})
					continue
				}
				m[i].Value = append(m[i].Value.([]string), c.Comment)
				continue
			}
			if i, ok := index[c.Key]; ok {
				if override {
					m[i].Value = c.Value
				}
				continue
			}
			index[c.Key] = len(m)
			m = append(m, MetadataEntry{c.Key, c.Value})
		}
	}
	if len(hdrs) == 0 {
		return m
	}
	add(hdrs[0], true)
	if raw {
		extra := []string{"REB_COND", "CONFIG_COND"}
		if strings.Contains(formatter, "PhoSim") {
			extra = nil
			if len(hdrs) > 1 {
				add(hdrs[1], false)
			}
		}
		for _, name := range extra {
			for _, h := range hdrs[1:] {
				if n, _ := h.String("EXTNAME"); n == name {
					add(h, false)
					break
				}
			}
		}
		m = fixMetadata(m)
		if _, ok := m.Get("CRVAL1"); ok {
			m = slices.DeleteFunc(m, func(e MetadataEntry) bool { return isWCSKey(e.Key) })
		}
		return m
	}
	if n, _ := hdrs[0].Int("NAXIS"); n == 0 && len(hdrs) > 1 {
		add(hdrs[1], true)
	}
	return m
}

// fixMetadata applies the header corrections ingest applies (upstream's
// fix_header); a header no translator accepts is returned as it is.
func fixMetadata(m Metadata) Metadata {
	h := obsinfo.Header{}
	for _, e := range m {
		if e.Key != "COMMENT" && e.Key != "HISTORY" {
			h[e.Key] = e.Value
		}
	}
	fixed, err := obsinfo.FixHeader(h, obsinfo.Options{})
	if err != nil {
		return m
	}
	out := make(Metadata, 0, len(fixed)+2)
	for _, e := range m {
		if v, ok := fixed[e.Key]; ok {
			e.Value = v
		} else if e.Key != "COMMENT" && e.Key != "HISTORY" {
			continue // removed by a correction
		}
		out = append(out, e)
	}
	var added []string
	for k := range fixed {
		if _, ok := h[k]; !ok {
			added = append(added, k)
		}
	}
	slices.Sort(added)
	for _, k := range added {
		out = append(out, MetadataEntry{k, fixed[k]})
	}
	return out
}

// isWCSKey reports whether a key describes the primary (unlettered) FITS WCS,
// the keys afw strips from a raw's metadata once it has made the WCS.
func isWCSKey(k string) bool {
	switch k {
	case "RADESYS", "RADECSYS", "EQUINOX", "LONPOLE", "LATPOLE", "WCSAXES":
		return true
	}
	for _, p := range []string{"CRPIX", "CRVAL", "CTYPE", "CUNIT", "CDELT", "CROTA"} {
		if rest, ok := strings.CutPrefix(k, p); ok && isDigits(rest) {
			return true
		}
	}
	for _, p := range []string{"CD", "PC"} {
		if rest, ok := strings.CutPrefix(k, p); ok {
			a, c, found := strings.Cut(rest, "_")
			if found && isDigits(a) && isDigits(c) {
				return true
			}
		}
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// imageSize is the size of an HDU's image: NAXIS1 × NAXIS2, or ZNAXIS1 ×
// ZNAXIS2 for a tile-compressed image; ok is false for anything else.
func imageSize(h *fits.Header) (x, y int64, ok bool) {
	prefix := ""
	if h.IsCompressedImage() {
		prefix = "Z"
	}
	if n, _ := h.Int(prefix + "NAXIS"); n != 2 {
		return 0, 0, false
	}
	x, ok1 := h.Int(prefix + "NAXIS1")
	y, ok2 := h.Int(prefix + "NAXIS2")
	return x, y, ok1 && ok2 && x > 0 && y > 0
}

// exposureBox is the bounding box of the image a FITS exposure reads as. A raw
// with amplifier HDUs is assembled, overscans kept, as obs_lsst assembles it:
// amplifiers are laid out in the grid their DETSEC positions give, each taking
// its on-disk size, from (0, 0). Any other file's box is its first image's
// size, starting at the xy0 afw records (CRVAL1A/CRVAL2A of a LINEAR "A" WCS,
// else -LTV1/-LTV2).
func exposureBox(hdrs []*fits.Header, raw bool) (Box, error) {
	if raw {
		cols, rows := map[int64]int64{}, map[int64]int64{}
		amps := 0
		for _, h := range hdrs[1:] {
			x, y, ok := imageSize(h)
			sec, hasSec := h.String("DETSEC")
			if !ok || !hasSec {
				continue
			}
			x0, y0, err := secStart(sec)
			if err != nil {
				name, _ := h.String("EXTNAME")
				return Box{}, fmt.Errorf("amplifier HDU %s: DETSEC %q: %w", name, sec, err)
			}
			cols[x0] = max(cols[x0], x)
			rows[y0] = max(rows[y0], y)
			amps++
		}
		if amps > 0 {
			var w, h int64
			for _, v := range cols {
				w += v
			}
			for _, v := range rows {
				h += v
			}
			return Box{Maximum: Point{w - 1, h - 1}}, nil
		}
	}
	for _, h := range hdrs {
		x, y, ok := imageSize(h)
		if !ok {
			continue
		}
		var origin Point
		if t, _ := h.String("CTYPE1A"); strings.TrimSpace(t) == "LINEAR" {
			a, _ := h.Float("CRVAL1A")
			b, _ := h.Float("CRVAL2A")
			origin = Point{int64(a), int64(b)}
		} else {
			a, _ := h.Float("LTV1")
			b, _ := h.Float("LTV2")
			origin = Point{-int64(a), -int64(b)}
		}
		return Box{Minimum: origin, Maximum: Point{origin.X + x - 1, origin.Y + y - 1}}, nil
	}
	return Box{}, fmt.Errorf("%w: no image HDU in the file", errs.ErrInvalid)
}

// secStart parses a FITS section "[x1:x2,y1:y2]" and returns its lower corner.
func secStart(s string) (x, y int64, err error) {
	inner, ok := strings.CutPrefix(strings.TrimSpace(s), "[")
	inner, ok2 := strings.CutSuffix(inner, "]")
	xs, ys, ok3 := strings.Cut(inner, ",")
	if !ok || !ok2 || !ok3 {
		return 0, 0, fmt.Errorf("%w: want [x1:x2,y1:y2]", errs.ErrInvalid)
	}
	lo := func(r string) (int64, error) {
		a, c, found := strings.Cut(r, ":")
		if !found {
			return 0, errors.New("want [x1:x2,y1:y2]")
		}
		p, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		q, err2 := strconv.ParseInt(strings.TrimSpace(c), 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, err
		}
		return min(p, q), nil
	}
	if x, err = lo(xs); err == nil {
		y, err = lo(ys)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%w: %w", errs.ErrInvalid, err)
	}
	return x, y, nil
}

// assignComponent stores a component value into v: directly when v points to
// the value's own type, else through its JSON form.
func assignComponent(v, c any) error {
	switch p := v.(type) {
	case *Metadata:
		if m, ok := c.(Metadata); ok {
			*p = m
			return nil
		}
	case *Box:
		if m, ok := c.(Box); ok {
			*p = m
			return nil
		}
	case *Extent:
		if m, ok := c.(Extent); ok {
			*p = m
			return nil
		}
	case *Point:
		if m, ok := c.(Point); ok {
			*p = m
			return nil
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// componentYAML is a component value as YAML, indented by two.
func componentYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// isComponent reports whether a dataset type name names a component
// ("raw.metadata"; "raw." names the empty component, which no class has).
func isComponent(typeName string) bool { return strings.Contains(typeName, ".") }
