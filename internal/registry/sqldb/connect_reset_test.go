package sqldb

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/gobutler/butler/errs"
)

// TestOpenPostgres_ServerClosesConnection: a server that closes the socket
// while the connection is opened (as a restarting one does) is ErrBusy with
// a message saying so, not an unclassified error (which the CLI reports as a
// bug in butler).
func TestOpenPostgres_ServerClosesConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dsn := fmt.Sprintf("postgresql://someone:secret@%s/butler_test?sslmode=disable", ln.Addr())
	_, err = openPG(t, dsn, "s", false, false)
	if !errors.Is(err, errs.ErrBusy) || !strings.Contains(err.Error(), "restart") || strings.Contains(err.Error(), "secret") {
		t.Errorf("open on a server that closes the connection: %v; want ErrBusy saying the server may be restarting, without the password", err)
	}
}
