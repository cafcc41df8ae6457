package butler

import (
	"strings"
	"testing"
)

// A suggestion never repeats the name that was typed (it was "exposure has no
// field "timespan"; did you mean timespan?").
func TestClosest_NeverTheTypedName(t *testing.T) {
	tests := []struct {
		name  string
		known []string
		want  string
	}{
		{"timespan", []string{"timespan", "obs_id"}, " (known: timespan, obs_id)"},
		{"timespn", []string{"timespan", "obs_id"}, "; did you mean timespan?"},
		{"seq_num", []string{"seq_num", "seq_start", "seq_end"}, "; did you mean seq_start or seq_end?"},
	}
	for _, tt := range tests {
		got := closest(tt.name, tt.known)
		if got != tt.want {
			t.Errorf("closest(%q, %v) = %q, want %q", tt.name, tt.known, got, tt.want)
		}
		if strings.Contains(got, "mean "+tt.name+"?") || strings.Contains(got, "mean "+tt.name+" ") {
			t.Errorf("closest(%q) suggests the typed name: %q", tt.name, got)
		}
	}
}
