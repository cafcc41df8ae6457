package server

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/errs"
)

// Repository is one entry of the repositories file.
type Repository struct {
	// Config is the repository's butler.yaml (or directory, or alias).
	Config string `yaml:"config"`
	// Groups may read the repository; "*" is everyone.
	Groups []string `yaml:"groups"`
}

// Public reports whether everyone may read the repository.
func (r Repository) Public() bool {
	for _, g := range r.Groups {
		if g == "*" {
			return true
		}
	}
	return false
}

var labelRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
})

// ReadRepositories reads a repositories file: YAML, LABEL: {config:
// BUTLER_YAML, groups: [G, …]}, as upstream's DAF_BUTLER_SERVER_REPOSITORIES
// (config_uri, authorized_groups) says it.
func ReadRepositories(path string) (map[string]Repository, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("repositories file: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("repositories file %s: %w: %v", path, errs.ErrInvalid, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("repositories file %s: %w: want a mapping LABEL: {config: PATH, groups: [GROUP, …]}", path, errs.ErrInvalid)
	}
	out := map[string]Repository{}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		label := k.Value
		at := fmt.Sprintf("%s:%d", path, k.Line)
		if !labelRE().MatchString(label) {
			return nil, fmt.Errorf("%s: %w: repository label %q: want letters, digits, '.', '_', '-'", at, errs.ErrInvalid, label)
		}
		if _, dup := out[label]; dup {
			return nil, fmt.Errorf("%s: %w: repository label %q given twice", at, errs.ErrInvalid, label)
		}
		var r Repository
		vd := yaml.NewDecoder(bytes.NewReader(mustYAML(v)))
		vd.KnownFields(true)
		if err := vd.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s: repository %q: %w: %v", at, label, errs.ErrInvalid, err)
		}
		if r.Config == "" {
			return nil, fmt.Errorf("%s: repository %q: %w: field config is missing", at, label, errs.ErrInvalid)
		}
		if len(r.Groups) == 0 {
			return nil, fmt.Errorf("%s: repository %q: %w: field groups is missing (use ['*'] for a public repository)", at, label, errs.ErrInvalid)
		}
		out[label] = r
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("repositories file %s: %w: no repositories", path, errs.ErrInvalid)
	}
	return out, nil
}

func mustYAML(n *yaml.Node) []byte {
	b, err := yaml.Marshal(n)
	if err != nil {
		return nil
	}
	return b
}

// labels returns the labels of a repository map, sorted.
func labels(m map[string]Repository) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// errUnauthorized refuses a request without valid credentials.
var errUnauthorized = errors.New("authentication required")
