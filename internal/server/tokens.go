package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gobutler/butler/errs"
)

// TokenPrefix starts every token, so that a leaked one is easy to recognise
// (and to search for in logs and repositories).
const TokenPrefix = "butler_"

// Token is one entry of a tokens file. The token itself is never stored:
// only the SHA-256 of it.
type Token struct {
	// ID is the first 12 hex digits of the hash: what `token list` shows and
	// `token revoke --id` takes.
	ID      string    `yaml:"id"`
	Hash    string    `yaml:"hash"` // "sha256:<hex>"
	User    string    `yaml:"user"`
	Groups  []string  `yaml:"groups"`
	Created time.Time `yaml:"created"`
}

var nameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._@+-]{0,127}$`)
})

func checkName(what, s string) error {
	if !nameRE().MatchString(s) {
		return fmt.Errorf("%w: %s %q: want letters, digits and . _ @ + - (at most 128)", errs.ErrInvalid, what, s)
	}
	return nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ReadTokens reads a tokens file; a missing file holds no tokens.
func ReadTokens(path string) ([]Token, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	var toks []Token
	if err := yaml.Unmarshal(data, &toks); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w: %v", path, errs.ErrInvalid, err)
	}
	for i, t := range toks {
		if !strings.HasPrefix(t.Hash, "sha256:") || len(t.Hash) != len("sha256:")+64 || t.User == "" {
			return nil, fmt.Errorf("tokens file %s: entry %d: %w: want id, hash (sha256:<64 hex>), user, groups", path, i+1, errs.ErrInvalid)
		}
	}
	return toks, nil
}

// writeTokens replaces a tokens file atomically (mode 0600).
func writeTokens(path string, toks []Token) error {
	if toks == nil {
		toks = []Token{}
	}
	data, err := yaml.Marshal(toks)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// lockTokens takes the tokens file's lock (FILE.lock, made with O_EXCL, so
// it works on any file system), so that concurrent `token create` and
// `token revoke` never lose each other's change; it returns the unlock. A
// lock older than a minute is a crashed process's and is taken over.
func lockTokens(path string) (func(), error) {
	lock := path + ".lock"
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(lock) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("tokens file lock: %w", err)
		}
		if fi, err := os.Stat(lock); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.Remove(lock)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("tokens file %s: %w: locked by another process (%s)", path, errs.ErrBusy, lock)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// CreateToken makes a new random token (32 bytes from crypto/rand) for user
// and groups, stores its hash in the tokens file and returns it: the only
// time the token exists outside its holder's hands.
func CreateToken(path, user string, groups []string) (string, Token, error) {
	if err := checkName("user", user); err != nil {
		return "", Token{}, err
	}
	for _, g := range groups {
		if err := checkName("group", g); err != nil {
			return "", Token{}, err
		}
	}
	unlock, err := lockTokens(path)
	if err != nil {
		return "", Token{}, err
	}
	defer unlock()
	toks, err := ReadTokens(path)
	if err != nil {
		return "", Token{}, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, err
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	h := hashToken(token)
	t := Token{ID: h[len("sha256:") : len("sha256:")+12], Hash: h, User: user, Groups: append([]string{}, groups...), Created: time.Now().UTC().Truncate(time.Second)}
	if err := writeTokens(path, append(toks, t)); err != nil {
		return "", Token{}, err
	}
	return token, t, nil
}

// RevokeTokens removes the tokens with the given ID, or all of a user's
// (one of id and user); it returns those removed. None matching is an error
// wrapping errs.ErrNotFound.
func RevokeTokens(path, id, user string) ([]Token, error) {
	if (id == "") == (user == "") {
		return nil, fmt.Errorf("%w: give a token ID or a user", errs.ErrInvalid)
	}
	unlock, err := lockTokens(path)
	if err != nil {
		return nil, err
	}
	defer unlock()
	toks, err := ReadTokens(path)
	if err != nil {
		return nil, err
	}
	var keep, gone []Token
	for _, t := range toks {
		if (id != "" && t.ID == id) || (user != "" && t.User == user) {
			gone = append(gone, t)
		} else {
			keep = append(keep, t)
		}
	}
	if len(gone) == 0 {
		what := "ID " + id
		if user != "" {
			what = "user " + user
		}
		return nil, fmt.Errorf("%w: no token with %s in %s", errs.ErrNotFound, what, path)
	}
	return gone, writeTokens(path, keep)
}

// tokenStore answers which user holds a token, re-reading the tokens file
// when it changes (checked at most once per interval), so that a revoked
// token stops working without a restart.
type tokenStore struct {
	path     string
	interval time.Duration

	mu      sync.Mutex
	checked time.Time
	mod     time.Time
	size    int64
	byHash  map[string]Token
	loadErr error
}

func newTokenStore(path string, interval time.Duration) (*tokenStore, error) {
	s := &tokenStore{path: path, interval: interval}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *tokenStore) reload() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("tokens file %s: %w: mode %v lets others read it; chmod 600", s.path, errs.ErrPermission, fi.Mode().Perm())
	}
	toks, err := ReadTokens(s.path)
	if err != nil {
		return err
	}
	m := make(map[string]Token, len(toks))
	for _, t := range toks {
		m[t.Hash] = t
	}
	s.byHash, s.mod, s.size = m, fi.ModTime(), fi.Size()
	return nil
}

// lookup returns the token's entry. The table is keyed by the token's hash,
// and the stored hash is compared again in constant time, so the time taken
// says nothing about how close a guess was.
func (s *tokenStore) lookup(token string) (Token, bool) {
	s.mu.Lock()
	if now := time.Now(); now.Sub(s.checked) >= s.interval {
		s.checked = now
		if fi, err := os.Stat(s.path); err != nil || !fi.ModTime().Equal(s.mod) || fi.Size() != s.size {
			// A file that cannot be read any more refuses every token rather
			// than keeping revoked ones alive.
			if s.loadErr = s.reload(); s.loadErr != nil {
				s.byHash = nil
			}
		}
	}
	h := hashToken(token)
	t, ok := s.byHash[h]
	s.mu.Unlock()
	if !ok || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return Token{}, false
	}
	return t, true
}
