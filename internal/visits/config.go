// Package visits holds the pure parts of define-visits: the configuration
// (obs_base's DefineVisitsConfig and its subtask configs, with their field
// names), the grouping algorithms that turn exposures into visit definitions,
// and the aggregation of exposure fields into a visit's fields. It reads and
// writes no repository; package butler does that.
package visits

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gobutler/butler/errs"
)

// Grouping algorithm names, as obs_base registers them.
const (
	OneToOne             = "one-to-one"
	ByGroupMetadata      = "by-group-metadata"
	OneToOneAndByCounter = "one-to-one-and-by-counter"
)

// Algorithms lists the grouping algorithms in obs_base's order.
var Algorithms = []string{OneToOne, ByGroupMetadata, OneToOneAndByCounter}

// SingleRawWCS is the only region algorithm ("computeVisitRegions.name").
const SingleRawWCS = "single-raw-wcs"

// Config is obs_base's DefineVisitsConfig with the fields of its active
// subtask configs. Defaults are current obs_base main's (DefaultConfig).
type Config struct {
	// GroupExposures is groupExposures.name.
	GroupExposures string
	// ComputeVisitRegions is computeVisitRegions.name (only single-raw-wcs).
	ComputeVisitRegions string
	// Padding is computeVisitRegions.active.padding in pixels; nil means the
	// instrument's default (obs_base's 250, LATISS's override 4000).
	Padding *int
	// MergeExposures is computeVisitRegions.active.mergeExposures: hull the
	// detector regions of every exposure of a visit instead of using the first.
	MergeExposures bool
	// DetectorID is computeVisitRegions.active.detectorId. The nominal camera
	// geometry is consistent across detectors, so it changes nothing here.
	DetectorID *int
	// RequireVersionedCamera is computeVisitRegions.active.requireVersionedCamera.
	// This butler only has the nominal camera, so true is an error.
	RequireVersionedCamera bool
	// IgnoreNonScienceExposures is ignoreNonScienceExposures: skip exposures
	// that are not on the sky (no tracking_ra/tracking_dec/sky_angle, or
	// can_see_sky false) instead of failing on them.
	IgnoreNonScienceExposures bool
	// UpdateObsCoreTable is updateObsCoreTable (no obscore table here: unused).
	UpdateObsCoreTable bool
}

// DefaultConfig is DefineVisitsConfig's defaults in current obs_base.
func DefaultConfig() Config {
	return Config{
		GroupExposures:            OneToOne,
		ComputeVisitRegions:       SingleRawWCS,
		IgnoreNonScienceExposures: true,
		UpdateObsCoreTable:        true,
	}
}

// Keys lists the configuration keys Set accepts.
func Keys() []string {
	return []string{
		"groupExposures.name", "computeVisitRegions.name",
		"computeVisitRegions.active.padding", "computeVisitRegions.active.mergeExposures",
		"computeVisitRegions.active.detectorId", "computeVisitRegions.active.requireVersionedCamera",
		"ignoreNonScienceExposures", "updateObsCoreTable",
	}
}

// Set applies one override, named as in a pex_config file without the
// leading "config." ("groupExposures.name", "computeVisitRegions.active.padding",
// also "computeVisitRegions['single-raw-wcs'].padding"). Values are Python
// literals: "one-to-one" or 'one-to-one', 250, True/False, None.
func (c *Config) Set(key, value string) error {
	key = strings.TrimPrefix(strings.TrimSpace(key), "config.")
	key = normalizeKey(key)
	value = strings.TrimSpace(value)
	switch key {
	case "groupExposures.name", "groupExposures":
		s, err := pyString(value)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if !isAlgorithm(s) {
			return fmt.Errorf("%s: %w: unknown grouping algorithm %q (known: %s)", key, errs.ErrInvalid, s, strings.Join(Algorithms, ", "))
		}
		c.GroupExposures = s
	case "computeVisitRegions.name", "computeVisitRegions":
		s, err := pyString(value)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if s != SingleRawWCS {
			return fmt.Errorf("%s: %w: unknown region algorithm %q (known: %s)", key, errs.ErrInvalid, s, SingleRawWCS)
		}
		c.ComputeVisitRegions = s
	case "computeVisitRegions.active.padding":
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("%s: %w: want an integer, got %q", key, errs.ErrInvalid, value)
		}
		c.Padding = &n
	case "computeVisitRegions.active.mergeExposures":
		return setBool(&c.MergeExposures, key, value)
	case "computeVisitRegions.active.detectorId":
		if value == "None" {
			c.DetectorID = nil
			return nil
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("%s: %w: want an integer or None, got %q", key, errs.ErrInvalid, value)
		}
		c.DetectorID = &n
	case "computeVisitRegions.active.requireVersionedCamera":
		return setBool(&c.RequireVersionedCamera, key, value)
	case "ignoreNonScienceExposures":
		return setBool(&c.IgnoreNonScienceExposures, key, value)
	case "updateObsCoreTable":
		return setBool(&c.UpdateObsCoreTable, key, value)
	default:
		return fmt.Errorf("%w: unknown define-visits config field %q (known: %s)", errs.ErrInvalid, key, strings.Join(Keys(), ", "))
	}
	return nil
}

// normalizeKey turns computeVisitRegions["single-raw-wcs"].x into
// computeVisitRegions.active.x (the one registered algorithm is the active one).
func normalizeKey(key string) string {
	for _, q := range []string{`["single-raw-wcs"]`, `['single-raw-wcs']`} {
		key = strings.Replace(key, "computeVisitRegions"+q, "computeVisitRegions.active", 1)
	}
	return key
}

func isAlgorithm(s string) bool {
	for _, a := range Algorithms {
		if a == s {
			return true
		}
	}
	return false
}

func setBool(dst *bool, key, value string) error {
	switch strings.ToLower(value) {
	case "true", "1":
		*dst = true
	case "false", "0":
		*dst = false
	default:
		return fmt.Errorf("%s: %w: want True or False, got %q", key, errs.ErrInvalid, value)
	}
	return nil
}

// pyString reads a quoted Python string literal (or a bare word).
func pyString(v string) (string, error) {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
		if v[len(v)-1] != v[0] {
			return "", fmt.Errorf("%w: unterminated string %s", errs.ErrInvalid, v)
		}
		return v[1 : len(v)-1], nil
	}
	if v == "" {
		return "", fmt.Errorf("%w: empty value", errs.ErrInvalid)
	}
	return v, nil
}

// Load applies a pex_config override file: one `config.KEY = VALUE`
// assignment a line; blank lines, comments and `import` lines are ignored.
// Errors name the file (name) and line.
func (c *Config) Load(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if i := strings.Index(text, "#"); i >= 0 && !strings.ContainsAny(text[:i], `"'`) {
			text = strings.TrimSpace(text[:i])
		}
		if text == "" || strings.HasPrefix(text, "import ") || strings.HasPrefix(text, "from ") {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return fmt.Errorf("%s line %d: %w: want config.FIELD = VALUE, got %q", name, line, errs.ErrInvalid, text)
		}
		if err := c.Set(k, v); err != nil {
			return fmt.Errorf("%s line %d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Validate checks the combination of settings.
func (c *Config) Validate() error {
	if !isAlgorithm(c.GroupExposures) {
		return fmt.Errorf("groupExposures.name: %w: unknown grouping algorithm %q (known: %s)", errs.ErrInvalid, c.GroupExposures, strings.Join(Algorithms, ", "))
	}
	if c.ComputeVisitRegions != SingleRawWCS {
		return fmt.Errorf("computeVisitRegions.name: %w: unknown region algorithm %q", errs.ErrInvalid, c.ComputeVisitRegions)
	}
	if c.RequireVersionedCamera {
		return fmt.Errorf("computeVisitRegions.active.requireVersionedCamera: %w: only the nominal camera geometry is available", errs.ErrUnsupported)
	}
	return nil
}
