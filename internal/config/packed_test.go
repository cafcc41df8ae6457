package config

import (
	"flag"
	"os"
	"reflect"
	"testing"
)

var updatePacked = flag.Bool("update-packed", false, "rewrite packed_defaults.bin from the packaged YAML files")

// TestPackedDefaults_Current: packed_defaults.bin holds exactly what parsing
// the packaged YAML files gives (go generate ./internal/config rewrites it).
func TestPackedDefaults_Current(t *testing.T) {
	parsed, err := parsePackagedFiles()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*mapping{}
	for name, p := range parsed {
		if p.err != nil {
			t.Fatalf("packaged %s: %v", name, p.err)
		}
		files[name] = p.m
	}
	enc, err := encodePacked(files)
	if err != nil {
		t.Fatal(err)
	}
	if *updatePacked {
		if err := os.WriteFile("packed_defaults.bin", enc, 0o644); err != nil {
			t.Fatal(err)
		}
		return // the binary still embeds the old file
	}
	got, err := decodePacked(packedDefaults)
	if err != nil {
		t.Fatalf("decode the embedded packed_defaults.bin: %v", err)
	}
	if !reflect.DeepEqual(got, files) {
		t.Errorf("packed_defaults.bin is stale: run go generate ./internal/config")
	}
	for _, bad := range [][]byte{nil, []byte(packedMagic), enc[:len(enc)-1], append(enc[:len(enc):len(enc)], 'x')} {
		if _, err := decodePacked(bad); err == nil {
			t.Errorf("decodePacked of %d bad bytes: no error", len(bad))
		}
	}
}
