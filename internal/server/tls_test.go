package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate and key for 127.0.0.1 and returns their
// paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "butler test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// Over TLS, the file URLs the server signs are https:// URLs of itself, and
// the universe route answers.
func TestServe_TLS(t *testing.T) {
	s := newTestServer(t, Options{})
	cert, key, pool := selfSigned(t)
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ListenAndServe(ctx, s, ListenOptions{Addr: "127.0.0.1:0", TLSCert: cert, TLSKey: key, Ready: func(a string) { addrc <- a }})
	}()
	base := "https://" + <-addrc
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path string, out any) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set(AuthUserHeader, "alice")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	var u struct {
		Universe map[string]any `json:"universe"`
	}
	if st := get("/api/butler/repo/main/v1/universe", &u); st != 200 || u.Universe["version"] == nil || u.Universe["namespace"] != "daf_butler" {
		t.Errorf("universe over TLS: %d %v", st, u.Universe["version"])
	}
	refs, err := s.repos["main"].b.Artifacts(t.Context(), nil)
	if err != nil || len(refs) != 0 {
		t.Fatalf("Artifacts(nil) = %v, %v", refs, err)
	}
	var all []json.RawMessage
	q := s.repos["main"].b.Query().Collections("run")
	for ref, err := range q.Datasets(t.Context(), "dict") {
		if err != nil {
			t.Fatal(err)
		}
		var gf struct {
			Artifact struct {
				FileInfo []struct{ URL string } `json:"file_info"`
			} `json:"artifact"`
		}
		get("/api/butler/repo/main/v1/get_file/"+ref.ID.String(), &gf)
		link := gf.Artifact.FileInfo[0].URL
		if !strings.HasPrefix(link, base+"/") {
			t.Errorf("file URL over TLS: %s", link)
		}
		resp, err := client.Get(link)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", link, resp, err)
		} else {
			resp.Body.Close()
		}
		all = append(all, nil)
	}
	if len(all) != 3 {
		t.Errorf("%d datasets", len(all))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
}
