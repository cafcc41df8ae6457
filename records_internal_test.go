package butler

import (
	"errors"
	"testing"

	"github.com/gobutler/butler/errs"
	"github.com/gobutler/butler/internal/registry"
)

// TestInsertMode_RegistryMode: each public insert mode reaches the registry as
// the mode of the same meaning; an unknown one is refused.
func TestInsertMode_RegistryMode(t *testing.T) {
	for _, tt := range []struct {
		mode InsertMode
		want registry.InsertMode
	}{
		{InsertNew, registry.InsertNew},
		{InsertSkip, registry.InsertSkip},
		{InsertReplace, registry.InsertReplace},
	} {
		got, err := tt.mode.registryMode()
		if err != nil || got != tt.want {
			t.Errorf("registryMode(%d) = %v, %v; want %v", tt.mode, got, err, tt.want)
		}
	}
	if _, err := InsertMode(99).registryMode(); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("registryMode(99) error = %v, want ErrInvalid", err)
	}
}
