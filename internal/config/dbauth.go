package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/errs"
)

// Environment variables for database credentials (lsst.utils.db_auth).
const (
	// EnvDBAuthCredentials holds the whole credential list as JSON; it wins
	// over any file.
	EnvDBAuthCredentials = "LSST_DB_AUTH_CREDENTIALS"
	// EnvDBAuth is the path of the credentials YAML file.
	EnvDBAuth = "LSST_DB_AUTH"
	// DefaultDBAuthPath is used when $LSST_DB_AUTH is not set.
	DefaultDBAuthPath = "~/.lsst/db-auth.yaml"
)

// DBAuth is a list of credentials, matched first-to-last against a database
// connection. Its zero value (or nil) holds no credentials.
type DBAuth struct {
	source  string // file path, or "$LSST_DB_AUTH_CREDENTIALS"
	entries []authEntry
}

type authEntry struct {
	url               string
	username          string
	hasUsername       bool
	password          string
	hasURL, hasPasswd bool
}

// Source says where the credentials came from ("" when none were found).
func (a *DBAuth) Source() string {
	if a == nil {
		return ""
	}
	return a.source
}

// Len is the number of entries.
func (a *DBAuth) Len() int {
	if a == nil {
		return 0
	}
	return len(a.entries)
}

// String describes the credentials without revealing any password.
func (a *DBAuth) String() string {
	if a == nil || a.source == "" {
		return "db-auth: none"
	}
	return fmt.Sprintf("db-auth from %s (%d entries)", a.source, len(a.entries))
}

// GoString keeps %#v from printing passwords.
func (a *DBAuth) GoString() string { return a.String() }

// LoadDBAuth reads credentials from $LSST_DB_AUTH_CREDENTIALS (JSON), else
// the file $LSST_DB_AUTH, else ~/.lsst/db-auth.yaml. A missing file gives an
// empty DBAuth and no error, so connections proceed unchanged. A file that
// group or others can access at all is refused (errs.ErrPermission).
func LoadDBAuth() (*DBAuth, error) {
	if js := os.Getenv(EnvDBAuthCredentials); js != "" {
		var list []map[string]any
		if err := json.Unmarshal([]byte(js), &list); err != nil {
			// The message of a JSON error never quotes the input, so no secret leaks.
			return nil, fmt.Errorf("read $%s: %w: not a JSON list of credentials: %v", EnvDBAuthCredentials, errs.ErrInvalid, err)
		}
		a := &DBAuth{source: "$" + EnvDBAuthCredentials}
		for _, e := range list {
			var ent authEntry
			for k, v := range e {
				s, _ := scalarString(v)
				switch k {
				case "url":
					ent.url, ent.hasURL = s, v != nil
				case "username":
					ent.username, ent.hasUsername = s, v != nil
				case "password":
					ent.password, ent.hasPasswd = s, v != nil
				}
			}
			a.entries = append(a.entries, ent)
		}
		return a, nil
	}
	path := os.Getenv(EnvDBAuth)
	if path == "" {
		path = DefaultDBAuthPath
	}
	if strings.HasPrefix(path, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return &DBAuth{}, nil // no home, so no default file
		}
		path = filepath.Join(home, path[2:])
	}
	return loadDBAuthFile(path)
}

func loadDBAuthFile(path string) (*DBAuth, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return &DBAuth{}, nil
		}
		return nil, fmt.Errorf("check db-auth file %q: %w", path, classifyFSError(err))
	}
	if !fi.Mode().IsRegular() {
		return &DBAuth{}, nil
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("check db-auth file %q: %w: mode %04o lets group or others access it; fix with: chmod 600 %s",
			path, errs.ErrPermission, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read db-auth file %q: %w", path, classifyFSError(err))
	}
	a, err := parseDBAuth(data)
	if err != nil {
		return nil, fmt.Errorf("read db-auth file %q: %w", path, err)
	}
	a.source = path
	return a, nil
}

// parseDBAuth reads the YAML list; scalar values are kept as written (a
// numeric password stays its digits).
func parseDBAuth(data []byte) (*DBAuth, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml errors quote at most a token and a line number, never values.
		return nil, fmt.Errorf("%w: %s", errs.ErrInvalid, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	a := &DBAuth{}
	if len(doc.Content) == 0 {
		return a, nil
	}
	top := resolveAlias(doc.Content[0])
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return a, nil
	}
	if top.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%w: line %d: expected a list of {url, username, password} entries", errs.ErrInvalid, top.Line)
	}
	for _, item := range top.Content {
		item = resolveAlias(item)
		if item.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%w: line %d: entry is not a mapping", errs.ErrInvalid, item.Line)
		}
		var e authEntry
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := resolveAlias(item.Content[i]), resolveAlias(item.Content[i+1])
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%w: line %d: %s must be a string", errs.ErrInvalid, v.Line, k.Value)
			}
			isSet := v.Tag != "!!null"
			switch k.Value {
			case "url":
				e.url, e.hasURL = v.Value, isSet
			case "username":
				e.username, e.hasUsername = v.Value, isSet
			case "password":
				e.password, e.hasPasswd = v.Value, isSet
			}
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// Get returns the credentials for a connection: the first entry whose URL
// matches wins. Entry URL rules: the scheme (no "+driver") must equal the
// dialect minus any "+driver"; a path other than "" or "/" is a glob the
// database must match; a user part must equal username; the host is a glob
// the host must match; a port must equal port (an entry without port matches
// any). The user returned is username when given, else the entry's
// `username` (possibly ""). No match gives errs.ErrNotFound.
func (a *DBAuth) Get(dialect, username, host, port, database string) (user, password string, err error) {
	switch {
	case dialect == "":
		return "", "", fmt.Errorf("look up db-auth: %w: missing dialect", errs.ErrInvalid)
	case host == "":
		return "", "", fmt.Errorf("look up db-auth: %w: missing host", errs.ErrInvalid)
	case database == "":
		return "", "", fmt.Errorf("look up db-auth: %w: missing database", errs.ErrInvalid)
	}
	where := "db-auth"
	if a != nil && a.source != "" {
		where = "db-auth " + a.source
	}
	base, _, _ := strings.Cut(dialect, "+")
	var entries []authEntry
	if a != nil {
		entries = a.entries
	}
	for i, e := range entries {
		if !e.hasURL || e.url == "" {
			return "", "", fmt.Errorf("look up %s: %w: entry %d has no url", where, errs.ErrInvalid, i+1)
		}
		u, err := parsePattern(e.url)
		if err != nil {
			return "", "", fmt.Errorf("look up %s: %w: entry %d url %q: %v", where, errs.ErrInvalid, i+1, e.url, err)
		}
		if u.scheme == "" {
			return "", "", fmt.Errorf("look up %s: %w: entry %d url %q has no database dialect", where, errs.ErrInvalid, i+1, e.url)
		}
		if strings.Contains(u.scheme, "+") {
			return "", "", fmt.Errorf("look up %s: %w: entry %d url %q names a driver (%s); give only the dialect",
				where, errs.ErrInvalid, i+1, e.url, u.scheme)
		}
		if base != u.scheme {
			continue
		}
		if u.path != "" && u.path != "/" && !fnmatch(database, strings.TrimLeft(u.path, "/")) {
			continue
		}
		if u.hasUser && (username == "" || username != u.user) {
			continue
		}
		if u.host == "" {
			return "", "", fmt.Errorf("look up %s: %w: entry %d url %q has no host", where, errs.ErrInvalid, i+1, e.url)
		}
		// Python's urlparse lower-cases the entry host; host names are
		// case-insensitive, so the connection's host is lower-cased too.
		if !fnmatch(strings.ToLower(host), u.host) {
			continue
		}
		if u.port != "" && port != u.port {
			continue
		}
		if !e.hasPasswd {
			return "", "", fmt.Errorf("look up %s: %w: entry %d (%s) has no password", where, errs.ErrInvalid, i+1, e.url)
		}
		if username != "" {
			return username, e.password, nil
		}
		return e.username, e.password, nil
	}
	return "", "", fmt.Errorf("look up %s: %w: no entry for %s://%s%s/%s", where, errs.ErrNotFound,
		dialect, userAt(username), hostPort(host, port), database)
}

func userAt(u string) string {
	if u == "" {
		return ""
	}
	return u + "@"
}

func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return host + ":" + port
	}
	return host
}

// patternURL is an entry URL split the way Python's urllib.parse.urlparse
// does (which, unlike net/url, accepts glob characters in the host).
type patternURL struct {
	scheme, user, host, port, path string
	hasUser                        bool
}

func parsePattern(s string) (patternURL, error) {
	var u patternURL
	rest := s
	if i := strings.Index(rest, ":"); i > 0 && schemeChars().MatchString(rest[:i]) {
		u.scheme, rest = strings.ToLower(rest[:i]), rest[i+1:]
	}
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		netloc := rest[:end]
		rest = rest[end:]
		hostinfo := netloc
		if i := strings.LastIndex(netloc, "@"); i >= 0 {
			u.hasUser = true
			u.user, _, _ = strings.Cut(netloc[:i], ":")
			hostinfo = netloc[i+1:]
		}
		if strings.HasPrefix(hostinfo, "[") {
			end := strings.Index(hostinfo, "]")
			if end < 0 {
				return u, errors.New("unclosed [ in host")
			}
			u.host, hostinfo = hostinfo[1:end], hostinfo[end+1:]
			if p, ok := strings.CutPrefix(hostinfo, ":"); ok {
				u.port = p
			}
		} else {
			u.host, u.port, _ = strings.Cut(hostinfo, ":")
		}
		u.host = strings.ToLower(u.host)
		if u.port != "" {
			n, err := strconv.Atoi(u.port)
			if err != nil || n < 0 || n > 65535 {
				return u, fmt.Errorf("port %q is not a number", u.port)
			}
			u.port = strconv.Itoa(n)
		}
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	u.path = rest
	return u, nil
}

var schemeChars = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)
})

// fnmatch is Python's fnmatch.fnmatchcase: * matches anything (including /),
// ? one character, [seq] and [!seq] character sets.
func fnmatch(name, pattern string) bool {
	var re strings.Builder
	re.WriteString(`(?s)\A`)
	runes := []rune(pattern)
	for i := 0; i < len(runes); i++ {
		switch c := runes[i]; c {
		case '*':
			re.WriteString(`.*`)
		case '?':
			re.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(runes) && runes[j] == '!' {
				j++
			}
			if j < len(runes) && runes[j] == ']' {
				j++
			}
			for j < len(runes) && runes[j] != ']' {
				j++
			}
			if j >= len(runes) {
				re.WriteString(`\[`)
				continue
			}
			set := runes[i+1 : j]
			re.WriteByte('[')
			if len(set) > 0 && set[0] == '!' {
				re.WriteByte('^')
				set = set[1:]
			} else if len(set) > 0 && set[0] == '^' {
				re.WriteString(`\^`)
				set = set[1:]
			}
			for _, r := range set {
				if r == '\\' || r == ']' || r == '[' {
					re.WriteByte('\\')
				}
				re.WriteRune(r)
			}
			re.WriteByte(']')
			i = j
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString(`\z`)
	ok, err := regexp.MatchString(re.String(), name)
	return err == nil && ok
}

// dbURL is a database URL split like SQLAlchemy's make_url.
type dbURL struct {
	driver                        string // "postgresql" or "postgresql+psycopg2"
	user, password                string
	hasUser, hasPassword          bool
	host, port, database, query   string
	hasHost, hasPort, hasDB, hasQ bool
}

var dbURLRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?s)^([\w+]+)://` +
		`(?:([^:/]*)(?::([^@]*))?@)?` +
		`(?:(?:\[([^/?]+)\]|([^/:?]+))?(?::([^/?]*))?)?` +
		`(?:/([^?]*))?` +
		`(?:\?(.*))?$`)
})

func parseDBURL(s string) (dbURL, error) {
	var u dbURL
	m := dbURLRE().FindStringSubmatchIndex(s)
	if m == nil {
		return u, errors.New("not of the form dialect[+driver]://[user[:password]@]host[:port]/database")
	}
	group := func(i int) (string, bool) {
		if m[2*i] < 0 {
			return "", false
		}
		return s[m[2*i]:m[2*i+1]], true
	}
	u.driver, _ = group(1)
	var err error
	if v, ok := group(2); ok {
		if u.user, err = url.PathUnescape(v); err != nil {
			return u, errors.New("bad %-escape in user name")
		}
		u.hasUser = true
	}
	if v, ok := group(3); ok {
		if u.password, err = url.PathUnescape(v); err != nil {
			return u, errors.New("bad %-escape in password")
		}
		u.hasPassword = true
	}
	if v, ok := group(4); ok {
		u.host, u.hasHost = v, true
	} else if v, ok := group(5); ok {
		u.host, u.hasHost = v, true
	}
	if v, ok := group(6); ok && v != "" {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 65535 {
			return u, fmt.Errorf("port %q is not a number", v)
		}
		u.port, u.hasPort = v, true
	}
	u.database, u.hasDB = group(7)
	u.query, u.hasQ = group(8)
	return u, nil
}

// render writes the URL; password "***" when redact is set.
func (u dbURL) render(redact bool) string {
	var b strings.Builder
	b.WriteString(u.driver + "://")
	if u.hasUser || u.hasPassword {
		b.WriteString(quoteUserinfo(u.user))
		if u.hasPassword {
			b.WriteByte(':')
			if redact {
				b.WriteString("***")
			} else {
				b.WriteString(quoteUserinfo(u.password))
			}
		}
		b.WriteByte('@')
	}
	if u.hasHost {
		if strings.Contains(u.host, ":") {
			b.WriteString("[" + u.host + "]")
		} else {
			b.WriteString(u.host)
		}
	}
	if u.hasPort {
		b.WriteString(":" + u.port)
	}
	if u.hasDB {
		b.WriteString("/" + u.database)
	}
	if u.hasQ {
		b.WriteString("?" + u.query)
	}
	return b.String()
}

// quoteUserinfo percent-encodes everything but unreserved characters, like
// Python's urllib.parse.quote(s, safe="").
func quoteUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

var passwordInURL = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^([^:/?#]*://[^:/@?#]*):[^@/]*@`)
})

// redactURL replaces a password in a database URL by "***".
func redactURL(s string) string {
	if u, err := parseDBURL(s); err == nil {
		if !u.hasPassword {
			return s
		}
		return u.render(true)
	}
	return passwordInURL().ReplaceAllString(s, "$1:***@")
}

// ConnectionURL builds the database URL to connect with, as daf_butler does:
// parts missing from reg.DB are filled from reg's Username, Password, Host,
// Port and Database; when dialect, host and database are all known (not
// SQLite), the first matching auth entry sets both user and password (no
// match leaves the URL as is). User and password are percent-encoded, IPv6
// hosts bracketed, and a "+driver" suffix dropped from the scheme (Go
// drivers take plain postgresql://). redacted is the same URL with the
// password as "***", for messages; errors never contain the password.
func ConnectionURL(reg RegistryConfig, auth *DBAuth) (dsn string, redacted string, err error) {
	u, err := parseDBURL(reg.DB)
	if err != nil {
		return "", "", fmt.Errorf("parse registry.db %q: %w: %v", redactURL(reg.DB), errs.ErrInvalid, err)
	}
	changed := false
	fill := func(has *bool, dst *string, v string) {
		if (!*has || *dst == "") && v != "" {
			*dst, *has, changed = v, true, true
		}
	}
	fill(&u.hasUser, &u.user, reg.Username)
	fill(&u.hasPassword, &u.password, reg.Password)
	fill(&u.hasHost, &u.host, reg.Host)
	if reg.Port != 0 {
		fill(&u.hasPort, &u.port, strconv.Itoa(reg.Port))
	}
	fill(&u.hasDB, &u.database, reg.Database)
	if u.hasPassword && !u.hasUser {
		u.hasUser = true
	}
	if base, _, ok := strings.Cut(u.driver, "+"); ok {
		u.driver, changed = base, true
	}
	if u.host != "" && u.database != "" {
		user, pw, err := auth.Get(u.driver, u.user, u.host, u.port, u.database)
		switch {
		case err == nil:
			u.user, u.hasUser = user, true
			u.password, u.hasPassword = pw, true
			changed = true
		case !errors.Is(err, errs.ErrNotFound):
			return "", "", fmt.Errorf("credentials for %s: %w", u.render(true), err)
		}
	}
	if !changed {
		return reg.DB, redactURL(reg.DB), nil
	}
	return u.render(false), u.render(true), nil
}

// ResolveConnection is ConnectionURL with credentials loaded only when the
// URL names a host and database, so SQLite repositories never read (or
// trip over the permissions of) a db-auth file.
func ResolveConnection(reg RegistryConfig) (dsn string, redacted string, err error) {
	u, err := parseDBURL(reg.DB)
	if err != nil {
		return "", "", fmt.Errorf("parse registry.db %q: %w: %v", redactURL(reg.DB), errs.ErrInvalid, err)
	}
	var auth *DBAuth
	if (u.host != "" || reg.Host != "") && (u.database != "" || reg.Database != "") {
		if auth, err = LoadDBAuth(); err != nil {
			return "", "", err
		}
	}
	return ConnectionURL(reg, auth)
}
