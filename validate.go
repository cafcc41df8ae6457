package butler

import (
	"context"
	"fmt"
	"path"

	"github.com/gobutler/butler/dataset"
	"github.com/gobutler/butler/dimensions"
)

// ValidateConfiguration checks every registered dataset type (or those matching
// types, minus ignore) has a file template and a known storage class; it
// returns one line per problem.
func (b *Butler) ValidateConfiguration(ctx context.Context, types, ignore []string) ([]string, error) {
	if err := b.be.unsupported("validating the configuration"); err != nil {
		return nil, err
	}
	dts, err := b.reg.DatasetTypes(ctx, types)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, t := range dts {
		skip := false
		for _, p := range ignore {
			if ok, _ := path.Match(p, t.Name); ok {
				skip = true
			}
		}
		if skip {
			continue
		}
		if b.storageCls != nil {
			if _, ok := b.storageCls[t.StorageClass]; !ok {
				problems = append(problems, fmt.Sprintf("%s: unknown storage class %q", t.Name, t.StorageClass))
			}
		}
		// Render the template against a made-up data ID to find missing fields.
		id := dimensions.DataID{}
		recs := map[string]dimensions.Record{}
		for _, e := range append(append([]*dimensions.Element(nil), t.Dimensions.Required...), t.Dimensions.Implied...) {
			if e.PrimaryKey().Type == "int" {
				id[e.Name] = int64(1)
			} else {
				id[e.Name] = "x"
			}
			vals := map[string]any{}
			for _, f := range append(append([]dimensions.Field(nil), e.Keys...), e.Metadata...) {
				vals[f.Name] = "x"
			}
			recs[e.Name] = dimensions.Record{Element: e, Values: vals}
		}
		tgt := b.target(t, "run", dataset.ID{}, id, recs)
		tmpl, err := b.ds.Template(tgt)
		if err == nil {
			var implied []string
			for _, e := range t.Dimensions.Implied {
				implied = append(implied, e.Name)
			}
			_, comp := dataset.SplitComponent(t.Name)
			err = tmpl.Validate(t.Dimensions.RequiredNames(), comp != "", implied...)
		}
		if err == nil {
			_, err = b.ds.Path(tgt)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", t.Name, err))
		}
	}
	return problems, nil
}
