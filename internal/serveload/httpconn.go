package serveload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// httpConn is one client's keep-alive HTTP/1.1 connection to the server:
// each request is written as one prebuilt byte slice and its answer read by
// hand (status line, the few headers that matter, a Content-Length or
// chunked body into a reused buffer). net/http's client cost the load
// generator about 90 µs of CPU per request on a small machine, half what
// the server spent answering it; the load generator shares the machine
// with the server, so what it spends is taken from the server.
type httpConn struct {
	addr     string    // host:port
	deadline time.Time // of every read and write: the end of the run
	nc       net.Conn
	br       *bufio.Reader
	body     []byte // the last answer's body, reused
}

// answer is a response: its body is valid until the connection's next
// request.
type answer struct {
	status     int
	retryAfter int // seconds, from Retry-After
	body       []byte
}

// errProtocol is a response the connection cannot read.
var errProtocol = errors.New("malformed HTTP response")

func (h *httpConn) close() {
	if h.nc != nil {
		h.nc.Close()
		h.nc = nil
	}
}

// roundTrip sends req (a whole HTTP/1.1 request) and reads the answer. A
// kept-alive connection that the server closed meanwhile is redialled once.
func (h *httpConn) roundTrip(req []byte) (answer, error) {
	for attempt := 0; ; attempt++ {
		reused := h.nc != nil
		if h.nc == nil {
			nc, err := net.DialTimeout("tcp", h.addr, 10*time.Second)
			if err != nil {
				return answer{}, err
			}
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			nc.SetDeadline(h.deadline)
			h.nc = nc
			if h.br == nil {
				h.br = bufio.NewReaderSize(nc, 16<<10)
			} else {
				h.br.Reset(nc)
			}
		}
		a, keep, n, err := h.exchange(req)
		if err != nil || !keep {
			h.close()
		}
		if err != nil && reused && n == 0 && attempt == 0 && !isTimeout(err) {
			continue // the server closed an idle connection: once more on a new one
		}
		return a, err
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// exchange writes req and reads one response; n is how many bytes of the
// response were read (0: the connection was dead before answering).
func (h *httpConn) exchange(req []byte) (a answer, keep bool, n int, err error) {
	if _, err := h.nc.Write(req); err != nil {
		return a, false, 0, err
	}
	br := h.br
	line, err := br.ReadSlice('\n')
	if err != nil {
		return a, false, len(line), err
	}
	n = len(line)
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return a, false, n, fmt.Errorf("%w: status line %q", errProtocol, line)
	}
	a.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return a, false, n, fmt.Errorf("%w: status line %q", errProtocol, line)
	}
	keep = line[7] == '1'
	length, chunked := -1, false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return a, false, n, err
		}
		l := bytes.TrimRight(line, "\r\n")
		if len(l) == 0 {
			break
		}
		name, val, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			return a, false, n, fmt.Errorf("%w: header %q", errProtocol, l)
		}
		val = bytes.TrimSpace(val)
		switch {
		case asciiFold(name, "content-length"):
			if length, err = strconv.Atoi(string(val)); err != nil || length < 0 {
				return a, false, n, fmt.Errorf("%w: Content-Length %q", errProtocol, val)
			}
		case asciiFold(name, "transfer-encoding"):
			chunked = asciiFold(val, "chunked")
		case asciiFold(name, "retry-after"):
			a.retryAfter, _ = strconv.Atoi(string(val))
		case asciiFold(name, "connection"):
			keep = keep && !asciiFold(val, "close")
		}
	}
	body := h.body[:0]
	switch {
	case chunked:
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return a, false, n, err
			}
			sz := bytes.TrimRight(line, "\r\n")
			if i := bytes.IndexByte(sz, ';'); i >= 0 {
				sz = sz[:i]
			}
			size, err := strconv.ParseUint(string(bytes.TrimSpace(sz)), 16, 31)
			if err != nil {
				return a, false, n, fmt.Errorf("%w: chunk size %q", errProtocol, line)
			}
			if size == 0 {
				for { // trailers, then the empty line
					line, err = br.ReadSlice('\n')
					if err != nil {
						return a, false, n, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			if body, err = readN(br, body, int(size)); err != nil {
				return a, false, n, err
			}
			if _, err := br.Discard(2); err != nil { // the chunk's CRLF
				return a, false, n, err
			}
		}
	case length >= 0:
		if body, err = readN(br, body, length); err != nil {
			return a, false, n, err
		}
	default: // no length: the body ends with the connection
		keep = false
		var buf bytes.Buffer
		buf.Write(body)
		if _, err := buf.ReadFrom(br); err != nil {
			return a, false, n, err
		}
		body = buf.Bytes()
	}
	h.body = body
	a.body = body
	return a, keep, n, nil
}

// readN appends n bytes read from r to b.
func readN(r io.Reader, b []byte, n int) ([]byte, error) {
	start := len(b)
	b = slices.Grow(b, n)[:start+n]
	_, err := io.ReadFull(r, b[start:])
	return b, err
}

// asciiFold reports whether b equals the lower-case ASCII s, ignoring case.
func asciiFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
