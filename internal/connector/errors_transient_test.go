package connector_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/hubspot/hubspothttp"
	"github.com/concord-sync/concord/internal/connector/tryton/trytonrpc"
)

func TestIsTransient(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("open system crm: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"Nil", nil, false},
		{"Unclassified", errors.New("something odd"), false},
		{"Cancelled", wrap(context.Canceled), false},
		{"DeadlineExceeded", wrap(context.DeadlineExceeded), true},
		{"Marked", wrap(connector.Transient(errors.New("busy"))), true},
		{"Permanent", wrap(connector.Permanent("name", errors.New("too long"))), false},
		{"PermanentOverTransient", connector.Permanent("", connector.Transient(errors.New("x"))), false},
		{"Unauthorized", wrap(connector.ErrUnauthorized), false},
		{"Unsupported", wrap(connector.ErrUnsupported), false},
		{"RateLimited", wrap(connector.ErrRateLimited), true},
		{"RetryAfter", wrap(&connector.RetryAfterError{After: time.Second, Err: errors.New("slow down")}), true},
		{"ConnRefused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"ConnReset", wrap(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{"EOF", wrap(io.EOF), true},
		{"UnexpectedEOF", wrap(io.ErrUnexpectedEOF), true},
		{"BadConn", wrap(driver.ErrBadConn), true},
		{"DNSNotFound", wrap(&net.DNSError{Err: "no such host", Name: "crm.invalid", IsNotFound: true}), false},
		{"DNSTimeout", wrap(&net.DNSError{Err: "timeout", Name: "crm.example", IsTimeout: true}), true},
		{"HubSpot502", wrap(&hubspothttp.Error{StatusCode: 502}), true},
		{"HubSpot429", wrap(&hubspothttp.Error{StatusCode: 429, RetryAfter: time.Second}), true},
		{"HubSpot401", wrap(&hubspothttp.Error{StatusCode: 401}), false},
		{"HubSpot400", wrap(&hubspothttp.Error{StatusCode: 400}), false},
		{"Tryton503", wrap(&trytonrpc.HTTPError{Method: "common.db.login", Status: 503}), true},
		{"Tryton401", wrap(&trytonrpc.HTTPError{Method: "common.db.login", Status: 401}), false},
		{"Tryton403", wrap(&trytonrpc.HTTPError{Method: "model.x", Status: 403}), false},
		{"TrytonLocked", wrap(&trytonrpc.RetryableError{Method: "model.x", Message: "database is locked"}), true},
		{"TrytonRateLimit", wrap(&trytonrpc.RateLimitError{Method: "common.db.login", RetryAfter: time.Minute}), true},
		{"TrytonUnknownModel", wrap(&trytonrpc.ServerError{Method: "model.nope.search", Message: "KeyError: 'nope'"}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, connector.IsTransient(tc.err), "%v", tc.err)
		})
	}
}

// TestIsTransient_RealTransport checks the transport errors net/http really
// returns: a refused connection and a connection the server drops mid-answer.
func TestIsTransient_RealTransport(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = http.Get("http://" + addr + "/")
	require.Error(t, err)
	require.True(t, connector.IsTransient(err), "refused: %v", err)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST, not FIN
			}
			_ = conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	_, err = http.Post(srv.URL, "application/json", nil)
	require.Error(t, err)
	require.True(t, connector.IsTransient(err), "reset: %v", err)
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	require.Equal(t, time.Duration(0), connector.RetryAfter(errors.New("x")))
	require.Equal(t, 3*time.Second, connector.RetryAfter(fmt.Errorf("poll: %w", &hubspothttp.Error{StatusCode: 429, RetryAfter: 3 * time.Second})))
	require.Equal(t, 2*time.Second, connector.RetryAfter(&connector.RetryAfterError{After: 2 * time.Second, Err: errors.New("x")}))
	require.Equal(t, time.Minute, connector.RetryAfter(&trytonrpc.RateLimitError{RetryAfter: time.Minute}))
	require.Equal(t, 5*time.Second, connector.RetryAfter(&connector.TransientError{After: 5 * time.Second, Err: errors.New("x")}))
}
