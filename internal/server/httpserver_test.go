package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/server"
)

// httpBundle is a running server built with NewHTTPServer and LimitListener,
// with the peak number of connections it held at once.
type httpBundle struct {
	addr string

	mu         sync.Mutex
	open, peak int
}

func (b *httpBundle) peakConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

func (b *httpBundle) openConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// countingListener counts the connections the server holds: up when Accept
// returns one, down before the connection's Close releases its slot, so the
// count never exceeds the slots held.
type countingListener struct {
	net.Listener
	b *httpBundle
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.b.mu.Lock()
	l.b.open++
	l.b.peak = max(l.b.peak, l.b.open)
	l.b.mu.Unlock()
	return &countingConn{Conn: c, b: l.b}, nil
}

type countingConn struct {
	net.Conn
	b    *httpBundle
	once sync.Once
}

func (c *countingConn) Close() error {
	c.once.Do(func() {
		c.b.mu.Lock()
		c.b.open--
		c.b.mu.Unlock()
	})
	return c.Conn.Close()
}

func startHTTP(t *testing.T, l server.Limits) *httpBundle {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "slow body", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &httpBundle{addr: ln.Addr().String()}
	srv := server.NewHTTPServer(mux, l)
	go func() { _ = srv.Serve(&countingListener{Listener: server.LimitListener(ln, l), b: b}) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// closedByServer reads from c until the server closes it, failing if it is
// still open after within.
func closedByServer(t *testing.T, c net.Conn, within time.Duration) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(within)))
	_, err := io.Copy(io.Discard, c)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the server held the connection for more than %s", within)
}

// trickle writes one byte every 20 ms until the connection fails or t ends.
func trickle(t *testing.T, c net.Conn) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
}

func TestNewHTTPServer(t *testing.T) {
	t.Parallel()
	short := server.Limits{
		ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 400 * time.Millisecond,
		WriteTimeout: time.Second, IdleTimeout: 200 * time.Millisecond, MaxHeaderBytes: 4 << 10, MaxConns: 50,
	}

	t.Run("OKDefaults", func(t *testing.T) {
		t.Parallel()
		srv := server.NewHTTPServer(http.NotFoundHandler(), server.Limits{})
		d := server.DefaultLimits()
		require.Equal(t, d.ReadHeaderTimeout, srv.ReadHeaderTimeout)
		require.Equal(t, d.ReadTimeout, srv.ReadTimeout)
		require.Equal(t, d.WriteTimeout, srv.WriteTimeout)
		require.Equal(t, d.IdleTimeout, srv.IdleTimeout)
		require.Equal(t, d.MaxHeaderBytes, srv.MaxHeaderBytes)
		for _, v := range []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout} {
			require.Positive(t, v)
		}
	})

	t.Run("ErrSilentConnectionClosed", func(t *testing.T) {
		t.Parallel()
		b := startHTTP(t, short)
		closedByServer(t, dial(t, b.addr), 3*time.Second)
	})

	t.Run("ErrTricklingHeadersClosed", func(t *testing.T) {
		t.Parallel()
		b := startHTTP(t, short)
		c := dial(t, b.addr)
		_, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: concord\r\nX-Slow: "))
		require.NoError(t, err)
		trickle(t, c)
		closedByServer(t, c, 3*time.Second)
	})

	t.Run("ErrTricklingBodyClosed", func(t *testing.T) {
		t.Parallel()
		b := startHTTP(t, short)
		c := dial(t, b.addr)
		_, err := c.Write([]byte("POST /upload HTTP/1.1\r\nHost: concord\r\nContent-Length: 100000\r\n\r\n"))
		require.NoError(t, err)
		trickle(t, c)
		closedByServer(t, c, 3*time.Second)
	})

	t.Run("ErrIdleKeepAliveClosed", func(t *testing.T) {
		t.Parallel()
		b := startHTTP(t, short)
		c := dial(t, b.addr)
		_, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: concord\r\n\r\n"))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(3*time.Second)))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		closedByServer(t, c, 3*time.Second)
	})

	t.Run("ErrHeadersTooLarge", func(t *testing.T) {
		t.Parallel()
		b := startHTTP(t, short)
		c := dial(t, b.addr)
		_, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: concord\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(3*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
}

func TestLimitListener(t *testing.T) {
	t.Parallel()

	healthz := func(t *testing.T, addr string, within time.Duration) {
		t.Helper()
		client := &http.Client{Timeout: within}
		resp, err := client.Get("http://" + addr + "/healthz")
		require.NoError(t, err, "/healthz did not answer within %s", within)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}

	// The promise: /healthz answers at once while 200 idle connections are
	// open, with the default limits.
	t.Run("OKHealthzWith200IdleConns", func(t *testing.T) {
		t.Parallel()
		b := startHTTP(t, server.Limits{MaxConns: 512})
		for range 200 {
			dial(t, b.addr)
		}
		require.Eventually(t, func() bool { return b.openConns() >= 200 }, 5*time.Second, 10*time.Millisecond)
		healthz(t, b.addr, 2*time.Second)
	})

	// A cap below the idle connections (as a low open-file limit imposes): the
	// server never holds more than the cap, and /healthz still gets its turn once
	// the header timeout closes the idle ones ahead of it.
	t.Run("OKCapHeldHealthzAnswers", func(t *testing.T) {
		t.Parallel()
		b := startHTTP(t, server.Limits{ReadHeaderTimeout: 50 * time.Millisecond, MaxConns: 20})
		for range 200 {
			dial(t, b.addr)
		}
		healthz(t, b.addr, 10*time.Second)
		require.LessOrEqual(t, b.peakConns(), 20, "the server held more connections than its cap")
		require.Positive(t, b.peakConns())
	})
}
