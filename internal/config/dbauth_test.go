package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
)

// installAuthFile copies content into a temporary db-auth file with mode and
// points $LSST_DB_AUTH at it.
func installAuthFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	cleanEnv(t)
	p := filepath.Join(t.TempDir(), "db-auth.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDBAuth, p)
	return p
}

func upstreamAuth(t *testing.T) *DBAuth {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "dbauth", "db-auth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	installAuthFile(t, string(data), 0o600)
	a, err := LoadDBAuth()
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 9 {
		t.Fatalf("loaded %d entries, want 9", a.Len())
	}
	return a
}

type authCase struct {
	dialect, user, host, port, db string
	wantUser, wantPW              string
	wantErr                       error
}

func (c authCase) String() string {
	return fmt.Sprintf("%s/%s@%s:%s/%s", c.dialect, c.user, c.host, c.port, c.db)
}

func runAuthCases(t *testing.T, a *DBAuth, cases []authCase) {
	t.Helper()
	for _, c := range cases {
		user, pw, err := a.Get(c.dialect, c.user, c.host, c.port, c.db)
		switch {
		case c.wantErr != nil:
			if !errors.Is(err, c.wantErr) {
				t.Errorf("Get(%s) error = %v, want %v", c, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("Get(%s): %v", c, err)
		case user != c.wantUser || pw != c.wantPW:
			t.Errorf("Get(%s) = %q, %q; want %q, %q", c, user, pw, c.wantUser, c.wantPW)
		}
	}
}

// TestDBAuth_Get_UpstreamFile runs the first-match cases of lsst.utils'
// test_load against our copy of its 9-entry file.
func TestDBAuth_Get_UpstreamFile(t *testing.T) {
	a := upstreamAuth(t)
	runAuthCases(t, a, []authCase{
		{"postgresql", "user", "host.example.com", "5432", "my_database", "user", "test1", nil}, // full URL
		{"postgresql", "user", "host.example.com", "3360", "my_database", "user", "test2", nil}, // user, any port
		{"postgresql", "", "host.example.com", "5432", "my_database", "user", "test3", nil},     // no user: entry username
		{"postgresql", "", "host.example.com", "", "my_database", "user", "test4", nil},         // entry with port needs one
		{"postgresql", "", "host2.example.com", "", "my_other", "user", "test5", nil},           // globs on host and database
		{"postgresql", "", "host3.example.com", "3360", "some_database", "user", "test6", nil},  // "/" path: any database
		{"postgresql", "user", "host4.other.com", "", "other_database", "user", "test8", nil},   // postgresql://*
		{"postgresql+psycopg2", "user", "host.example.com", "5432", "my_database", "user", "test1", nil},
		{"oracle", "", "db.example.com", "", "x", "user", "test9", nil},
		{"oracle", "scott", "db.other.com", "", "x", "", "", errs.ErrNotFound},
		{"mysql", "", "host.example.com", "", "my_database", "", "", errs.ErrNotFound},
	})
}

func TestDBAuth_Get_Rules(t *testing.T) {
	t.Run("patterns", func(t *testing.T) {
		for _, pattern := range []string{
			"postgresql://*",
			"postgresql://*.example.com",
			"postgresql://*.example.com/my_*",
			"postgresql://host.example.com/my_database",
			"postgresql://host.example.com:5432/my_database",
			"postgresql://user@host.example.com/my_database",
			"postgresql://HOST.example.com/my_[dx]atabase",
			"postgresql://host.example.com/my_[!x]atabase",
		} {
			a := &DBAuth{entries: []authEntry{{url: pattern, hasURL: true, username: "foo", hasUsername: true, password: "bar", hasPasswd: true}}}
			runAuthCases(t, a, []authCase{{"postgresql", "user", "host.example.com", "5432", "my_database", "user", "bar", nil}})
		}
		for _, pattern := range []string{
			"postgresql://*.example.org",
			"postgresql://host.example.com/other",
			"postgresql://host.example.com:5433/my_database",
			"postgresql://other@host.example.com/my_database",
			"postgresql://host.example.com/my_[!d]atabase",
			"oracle://*",
		} {
			a := &DBAuth{entries: []authEntry{{url: pattern, hasURL: true, password: "bar", hasPasswd: true}}}
			runAuthCases(t, a, []authCase{{"postgresql", "user", "host.example.com", "5432", "my_database", "", "", errs.ErrNotFound}})
		}
	})
	t.Run("connection variants", func(t *testing.T) {
		a := &DBAuth{entries: []authEntry{entry("postgresql://host.example.com/my_database", "foo", "bar")}}
		runAuthCases(t, a, []authCase{
			{"postgresql", "user", "host.example.com", "5432", "my_database", "user", "bar", nil},
			{"postgresql", "user", "host.example.com", "", "my_database", "user", "bar", nil},
			{"postgresql", "", "host.example.com", "", "my_database", "foo", "bar", nil},
			{"postgresql", "", "host.example.com", "5432", "my_database", "foo", "bar", nil},
		})
	})
	t.Run("ipv6", func(t *testing.T) {
		a := &DBAuth{entries: []authEntry{
			entry("postgresql://user@[fe80::1ff:fe23:4567:890a]:5432/db", "", "pwd"),
			entry("postgresql://[fe80::1ff:fe23:4567:890a]:5432/db", "", "pwd2"),
			entry("postgresql://user3@[fe80::1ff:fe23:4567:890a]/db", "", "pwd3"),
			entry("postgresql://[fe80::1ff:fe23:4567:890a]/db", "", "pwd4"),
		}}
		runAuthCases(t, a, []authCase{
			{"postgresql", "user", "fe80::1ff:fe23:4567:890a", "5432", "db", "user", "pwd", nil},
			{"postgresql", "user2", "fe80::1ff:fe23:4567:890a", "5432", "db", "user2", "pwd2", nil},
			{"postgresql", "user3", "fe80::1ff:fe23:4567:890a", "3360", "db", "user3", "pwd3", nil},
			{"postgresql", "user4", "fe80::1ff:fe23:4567:890a", "3360", "db", "user4", "pwd4", nil},
		})
	})
	t.Run("ordered search", func(t *testing.T) {
		a := &DBAuth{entries: []authEntry{
			entry("postgresql://user1@host2.example.com:3360/database3", "", "first"),
			entry("postgresql://host2.example.com:3360/database3", "second_u", "second"),
			entry("postgresql://host2.example.com:5432/database3", "wrong", "port"),
			entry("postgresql://host3.example.com/", "third_u", "third"),
			entry("oracle://oracle.example.com/other_database", "scott", "tiger"),
			entry("postgresql://*.example.com/database3", "fourth_u", "fourth"),
			entry("postgresql://*.example.com", "fifth_u", "fifth"),
		}}
		runAuthCases(t, a, []authCase{
			{"postgresql", "user1", "host2.example.com", "3360", "database3", "user1", "first", nil},
			{"postgresql", "user2", "host2.example.com", "3360", "database3", "user2", "second", nil},
			{"postgresql", "", "host2.example.com", "3360", "database3", "second_u", "second", nil},
			{"postgresql", "", "host3.example.com", "3360", "database3", "third_u", "third", nil},
			{"postgresql", "", "host3.example.com", "3360", "database4", "third_u", "third", nil},
			{"postgresql", "", "host4.example.com", "3360", "database3", "fourth_u", "fourth", nil},
			{"postgresql", "", "host4.example.com", "3360", "database4", "fifth_u", "fifth", nil},
			{"oracle", "", "oracle.example.com", "", "other_database", "scott", "tiger", nil},
		})
	})
	t.Run("errors", func(t *testing.T) {
		empty := &DBAuth{}
		runAuthCases(t, empty, []authCase{
			{"", "", "example.com", "", "foo", "", "", errs.ErrInvalid},
			{"postgresql", "", "", "", "foo", "", "", errs.ErrInvalid},
			{"postgresql", "", "example.com", "", "", "", "", errs.ErrInvalid},
			{"postgresql", "", "example.com", "", "foo", "", "", errs.ErrNotFound},
		})
		var nilAuth *DBAuth
		runAuthCases(t, nilAuth, []authCase{{"postgresql", "", "example.com", "", "foo", "", "", errs.ErrNotFound}})
		for _, e := range []authEntry{
			{password: "testing", hasPasswd: true},                                                // no url
			entry("testing", "", "testing"),                                                       // no dialect
			entry("postgresql:///foo", "", "testing"),                                             // no host
			entry("postgresql+psycopg2://example.com/foo", "", "testing"),                         // driver in entry
			{url: "postgresql://example.com/foo", hasURL: true, username: "u", hasUsername: true}, // matched, no password
			entry("postgresql://example.com:port/foo", "", "testing"),                             // bad port
		} {
			a := &DBAuth{entries: []authEntry{e}}
			runAuthCases(t, a, []authCase{{"postgresql", "", "example.com", "", "foo", "", "", errs.ErrInvalid}})
		}
	})
}

func entry(url, user, pw string) authEntry {
	return authEntry{url: url, hasURL: true, username: user, hasUsername: user != "", password: pw, hasPasswd: true}
}

func TestLoadDBAuth_Permissions(t *testing.T) {
	const content = "- url: postgresql://h.example.com/db\n  username: u\n  password: hunter2\n"
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700, 0o640, 0o644, 0o660, 0o604, 0o610} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			p := installAuthFile(t, content, mode)
			a, err := LoadDBAuth()
			if mode&0o077 == 0 {
				if err != nil {
					t.Fatalf("LoadDBAuth: %v", err)
				}
				if a.Len() != 1 || a.Source() != p {
					t.Errorf("loaded %d entries from %q", a.Len(), a.Source())
				}
				return
			}
			if !errors.Is(err, errs.ErrPermission) {
				t.Fatalf("LoadDBAuth error = %v, want ErrPermission", err)
			}
			for _, s := range []string{p, fmt.Sprintf("%04o", mode), "chmod 600 " + p} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestLoadDBAuth_Sources(t *testing.T) {
	t.Run("missing file", func(t *testing.T) {
		cleanEnv(t)
		t.Setenv(EnvDBAuth, filepath.Join(t.TempDir(), "absent.yaml"))
		a, err := LoadDBAuth()
		if err != nil || a == nil || a.Len() != 0 {
			t.Errorf("LoadDBAuth() = %v, %v; want empty, nil", a, err)
		}
	})
	t.Run("default path under HOME", func(t *testing.T) {
		cleanEnv(t)
		home := t.TempDir()
		t.Setenv("HOME", home)
		a, err := LoadDBAuth()
		if err != nil || a.Len() != 0 {
			t.Fatalf("no file: %v, %v", a, err)
		}
		p := filepath.Join(home, ".lsst", "db-auth.yaml")
		writeFile(t, p, "- url: postgresql://h/db\n  password: x\n")
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err = LoadDBAuth()
		if err != nil || a.Source() != p || a.Len() != 1 {
			t.Errorf("LoadDBAuth() = %v, %v; want 1 entry from %s", a, err, p)
		}
	})
	t.Run("bad YAML", func(t *testing.T) {
		p := installAuthFile(t, "- url: [unclosed\n  password: x\n", 0o600)
		_, err := LoadDBAuth()
		if !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), p) {
			t.Errorf("error = %v, want ErrInvalid naming %s", err, p)
		}
	})
	t.Run("not a list", func(t *testing.T) {
		installAuthFile(t, "url: postgresql://h/db\npassword: x\n", 0o600)
		if _, err := LoadDBAuth(); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("error = %v, want ErrInvalid", err)
		}
	})
	t.Run("JSON env wins over a bad file", func(t *testing.T) {
		installAuthFile(t, "- url: postgresql://h/db\n  password: x\n", 0o644)
		t.Setenv(EnvDBAuthCredentials, `[{"url": "postgresql://h.example.com/db", "username": "u", "password": "pw"}]`)
		a, err := LoadDBAuth()
		if err != nil {
			t.Fatal(err)
		}
		user, pw, err := a.Get("postgresql", "", "h.example.com", "", "db")
		if err != nil || user != "u" || pw != "pw" {
			t.Errorf("Get = %q, %q, %v", user, pw, err)
		}
		if strings.Contains(a.String()+a.GoString()+fmt.Sprintf("%v %+v", a, a), "pw\"") {
			t.Error("DBAuth formatting shows a password")
		}
	})
	t.Run("bad JSON env", func(t *testing.T) {
		cleanEnv(t)
		t.Setenv(EnvDBAuthCredentials, `[{"url": "x", "password": "hunter2"`)
		_, err := LoadDBAuth()
		if !errors.Is(err, errs.ErrInvalid) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error = %v, want ErrInvalid without the content", err)
		}
	})
	t.Run("numeric password kept as written", func(t *testing.T) {
		installAuthFile(t, "- url: postgresql://h/db\n  username: u\n  password: 007\n", 0o600)
		a, err := LoadDBAuth()
		if err != nil {
			t.Fatal(err)
		}
		if _, pw, _ := a.Get("postgresql", "", "h", "", "db"); pw != "007" {
			t.Errorf("password = %q, want 007", pw)
		}
	})
}

func TestDBAuth_FormattingHidesPasswords(t *testing.T) {
	a := &DBAuth{source: "f", entries: []authEntry{entry("postgresql://h/db", "u", "hunter2")}}
	for _, s := range []string{a.String(), a.GoString(), fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%q shows the password", s)
		}
	}
}

func TestConnectionURL(t *testing.T) {
	up := upstreamAuth(t)
	special := &DBAuth{entries: []authEntry{
		entry("postgresql://db.example.com/butler", "me@lab", "p@ss:w/rd%"),
		entry("postgresql://[fe80::1]/db", "", "pw6"),
	}}
	broken := &DBAuth{entries: []authEntry{{url: "postgresql://db.example.com/x", hasURL: true}}}
	tests := []struct {
		name         string
		reg          RegistryConfig
		auth         *DBAuth
		want, redact string
		wantErr      error
	}{
		{name: "upstream registryConf2", auth: up,
			reg:  RegistryConfig{DB: "postgresql://host.example.com", Port: 5432, Database: "my_database"},
			want: "postgresql://user:test3@host.example.com:5432/my_database", redact: "postgresql://user:***@host.example.com:5432/my_database"},
		{name: "sqlite untouched", auth: up, reg: RegistryConfig{DB: "sqlite:////data/repo/gen3.sqlite3"},
			want: "sqlite:////data/repo/gen3.sqlite3", redact: "sqlite:////data/repo/gen3.sqlite3"},
		{name: "driver dropped", auth: up, reg: RegistryConfig{DB: "postgresql+psycopg2://host.example.com:5432/my_database"},
			want: "postgresql://user:test3@host.example.com:5432/my_database", redact: "postgresql://user:***@host.example.com:5432/my_database"},
		{name: "user in URL kept", auth: up, reg: RegistryConfig{DB: "postgresql://alice@host.example.com/my_database"},
			want: "postgresql://alice:test4@host.example.com/my_database", redact: "postgresql://alice:***@host.example.com/my_database"},
		{name: "tutorial", auth: &DBAuth{entries: []authEntry{entry("postgresql://ccpglsstdev.in2p3.fr:6553", "messier", "very-secret")}},
			reg:  RegistryConfig{DB: "postgresql://ccpglsstdev.in2p3.fr:6553/messier", Namespace: "my_first_butler_repo"},
			want: "postgresql://messier:very-secret@ccpglsstdev.in2p3.fr:6553/messier", redact: "postgresql://messier:***@ccpglsstdev.in2p3.fr:6553/messier"},
		{name: "special characters encoded", auth: special, reg: RegistryConfig{DB: "postgresql://db.example.com/butler?sslmode=require"},
			want:   "postgresql://me%40lab:p%40ss%3Aw%2Frd%25@db.example.com/butler?sslmode=require",
			redact: "postgresql://me%40lab:***@db.example.com/butler?sslmode=require"},
		{name: "ipv6 bracketed", auth: special, reg: RegistryConfig{DB: "postgresql://u@[fe80::1]:5432/db"},
			want: "postgresql://u:pw6@[fe80::1]:5432/db", redact: "postgresql://u:***@[fe80::1]:5432/db"},
		{name: "host from config", auth: special, reg: RegistryConfig{DB: "postgresql:///db", Host: "fe80::1", Username: "u"},
			want: "postgresql://u:pw6@[fe80::1]/db", redact: "postgresql://u:***@[fe80::1]/db"},
		{name: "no match leaves URL", auth: special, reg: RegistryConfig{DB: "postgresql://u:inurl@other.org/db"},
			want: "postgresql://u:inurl@other.org/db", redact: "postgresql://u:***@other.org/db"},
		{name: "config password used", auth: nil, reg: RegistryConfig{DB: "postgresql://other.org/db", Username: "u", Password: "cfgpw"},
			want: "postgresql://u:cfgpw@other.org/db", redact: "postgresql://u:***@other.org/db"},
		{name: "no auth", auth: nil, reg: RegistryConfig{DB: "postgresql://h.example.com:5432/db"},
			want: "postgresql://h.example.com:5432/db", redact: "postgresql://h.example.com:5432/db"},
		{name: "bad URL", auth: up, reg: RegistryConfig{DB: "postgres ql://u:secret@h/db"}, wantErr: errs.ErrInvalid},
		{name: "bad port", auth: up, reg: RegistryConfig{DB: "postgresql://u:hunter2@h:port/db"}, wantErr: errs.ErrInvalid},
		{name: "broken auth entry", auth: broken, reg: RegistryConfig{DB: "postgresql://u:hunter2@db.example.com/x"}, wantErr: errs.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, red, err := ConnectionURL(tt.reg, tt.auth)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q reveals a password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dsn != tt.want || red != tt.redact {
				t.Errorf("ConnectionURL = %q, %q; want %q, %q", dsn, red, tt.want, tt.redact)
			}
		})
	}
}

func TestResolveConnection_LoadsAuthOnlyWhenNeeded(t *testing.T) {
	installAuthFile(t, "- url: postgresql://h/db\n  password: x\n", 0o644)
	dsn, _, err := ResolveConnection(RegistryConfig{DB: "sqlite:////r/gen3.sqlite3"})
	if err != nil || dsn != "sqlite:////r/gen3.sqlite3" {
		t.Errorf("sqlite: %q, %v; want the URL and no error", dsn, err)
	}
	if _, _, err := ResolveConnection(RegistryConfig{DB: "postgresql://h/db"}); !errors.Is(err, errs.ErrPermission) {
		t.Errorf("postgres with a 0644 db-auth file: %v, want ErrPermission", err)
	}
}
