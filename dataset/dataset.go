// Package dataset holds the value types of the butler API: dataset IDs, dataset
// types, references and collection types.
package dataset

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gobutler/butler/dimensions"
	"github.com/gobutler/butler/errs"
	"github.com/google/uuid"
)

// ID is a dataset's UUID.
type ID = uuid.UUID

// Namespace is uuid5(NAMESPACE_DNS, "lsst.org"), the namespace of deterministic dataset IDs.
var Namespace = uuid.MustParse("840b31d9-05cd-5161-b2c8-00d32b280d0f")

// IDMode chooses how a new dataset's ID is made.
type IDMode int

const (
	// Unique gives a time-ordered random UUID (version 7), as daf_butler does now.
	Unique IDMode = iota
	// DataIDType gives uuid5 of the dataset type name and data ID.
	DataIDType
	// DataIDTypeRun gives uuid5 of the dataset type name, run and data ID (raw ingest).
	DataIDTypeRun
)

// ParseIDMode reads UNIQUE, DATAID_TYPE or DATAID_TYPE_RUN.
func ParseIDMode(s string) (IDMode, error) {
	switch strings.ToUpper(s) {
	case "UNIQUE", "":
		return Unique, nil
	case "DATAID_TYPE":
		return DataIDType, nil
	case "DATAID_TYPE_RUN":
		return DataIDTypeRun, nil
	}
	return 0, fmt.Errorf("ID generation mode %q: %w: want UNIQUE, DATAID_TYPE or DATAID_TYPE_RUN", s, errs.ErrInvalid)
}

// NewID makes a dataset ID. For the deterministic modes the name is
// "dataset_type=<t>[,run=<r>],<k>=<v>,..." over the required data ID keys sorted by name.
func NewID(mode IDMode, typeName, run string, required dimensions.DataID) (ID, error) {
	if mode == Unique {
		return uuid.NewV7()
	}
	parts := []string{"dataset_type=" + typeName}
	if mode == DataIDTypeRun {
		parts = append(parts, "run="+run)
	}
	keys := make([]string, 0, len(required))
	for k := range required {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, required[k]))
	}
	return uuid.NewSHA1(Namespace, []byte(strings.Join(parts, ","))), nil
}

// CollectionType is the kind of a collection; the values are those stored in the registry.
type CollectionType int

const (
	Run         CollectionType = 1
	Tagged      CollectionType = 2
	Chained     CollectionType = 3
	Calibration CollectionType = 4
)

func (c CollectionType) String() string {
	switch c {
	case Run:
		return "RUN"
	case Tagged:
		return "TAGGED"
	case Chained:
		return "CHAINED"
	case Calibration:
		return "CALIBRATION"
	}
	return fmt.Sprintf("CollectionType(%d)", int(c))
}

// ParseCollectionType reads RUN, TAGGED, CHAINED or CALIBRATION (any case).
func ParseCollectionType(s string) (CollectionType, error) {
	switch strings.ToUpper(s) {
	case "RUN":
		return Run, nil
	case "TAGGED":
		return Tagged, nil
	case "CHAINED":
		return Chained, nil
	case "CALIBRATION":
		return Calibration, nil
	}
	return 0, fmt.Errorf("collection type %q: %w: want RUN, TAGGED, CHAINED or CALIBRATION", s, errs.ErrInvalid)
}

// MaxCollectionName is the longest collection name the registry stores.
const MaxCollectionName = 64

var typeNameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z_][a-zA-Z0-9_]*)*$`)
})

// Type is a dataset type: a name, the dimensions of its data IDs and a storage class.
type Type struct {
	Name          string
	Dimensions    dimensions.Group
	StorageClass  string
	IsCalibration bool
}

// ValidateTypeName checks a dataset type name against daf_butler's rule.
func ValidateTypeName(name string) error {
	if !typeNameRE().MatchString(name) || len(name) > 128 {
		return fmt.Errorf("dataset type name %q: %w: want letters, digits and underscores, not starting with a digit, components after '.', at most 128 characters", name, errs.ErrInvalid)
	}
	return nil
}

// Parent returns the parent type name and component of a possibly-component name.
func SplitComponent(name string) (parent, component string) {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// Equal reports whether two definitions are the same.
func (t Type) Equal(o Type) bool {
	return t.Name == o.Name && t.StorageClass == o.StorageClass && t.IsCalibration == o.IsCalibration && t.Dimensions.Equal(o.Dimensions)
}

func (t Type) String() string {
	cal := ""
	if t.IsCalibration {
		cal = ", isCalibration=True"
	}
	return fmt.Sprintf("DatasetType(%q, %s, %s%s)", t.Name, t.Dimensions, t.StorageClass, cal)
}

// Ref identifies one dataset: its ID, type, data ID and the RUN it was put in.
type Ref struct {
	ID     ID
	Type   Type
	DataID dimensions.DataID
	Run    string
}

func (r Ref) String() string {
	return fmt.Sprintf("%s@%s [sc=%s] (run=%s id=%s)", r.Type.Name, r.DataID, r.Type.StorageClass, r.Run, r.ID)
}
