package alert_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/health"
)

// mail is one message the test SMTP server accepted.
type mail struct {
	user, password string
	tls            bool
	from           string
	to             []string
	data           string
}

// smtpServer is a real SMTP server (go-smtp) on 127.0.0.1 with an in-memory
// mailbox, PLAIN authentication, and STARTTLS with a certificate of its own.
type smtpServer struct {
	addr  string
	port  int
	roots *x509.CertPool

	mu   sync.Mutex
	mail []mail
}

func startSMTP(t *testing.T, user, password string) *smtpServer {
	t.Helper()
	cert, roots := selfSigned(t)
	s := &smtpServer{roots: roots}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c, wantUser: user, wantPassword: password}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.AllowInsecureAuth = true // the security: none case; the starttls one checks TLS itself
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	return s
}

func (s *smtpServer) take() []mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.mail
	s.mail = nil
	return out
}

type smtpSession struct {
	srv                    *smtpServer
	conn                   *smtp.Conn
	wantUser, wantPassword string
	m                      mail
	authed                 bool
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != s.wantUser || password != s.wantPassword {
			return errors.New("invalid credentials")
		}
		s.authed = true
		s.m.user, s.m.password = user, password
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.wantUser != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	_, s.m.tls = s.conn.TLSConnectionState()
	s.m.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.to = append(s.m.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = string(b)
	s.srv.mu.Lock()
	s.srv.mail = append(s.srv.mail, s.m)
	s.srv.mu.Unlock()
	s.m = mail{user: s.m.user, password: s.m.password}
	return nil
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "concord test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// receiver is a local HTTP endpoint that keeps what alert webhooks post;
// fail makes the next posts answer 503.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	auth   []string
	fail   int
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail > 0 {
			r.fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.bodies = append(r.bodies, string(b))
		r.auth = append(r.auth, req.Header.Get("Authorization"))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) take() (bodies, auth []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bodies, auth, r.bodies, r.auth = r.bodies, r.auth, nil, nil
	return bodies, auth
}

// loadAlerts parses a config file holding yaml's alerts section, as serve
// does, with env as the environment.
func loadAlerts(t *testing.T, dir, yaml string, env map[string]string) *config.Config {
	t.Helper()
	reg := connector.NewRegistry()
	reg.Register(connector.Spec{Name: "sql", Open: func(context.Context, connector.OpenParams) (connector.Connector, error) {
		return nil, errors.New("not in tests")
	}})
	head := "version: 1\nowner: jane.doe@example.com\nsystems: [{name: crm, connector: sql}]\n"
	cfg, err := config.Parse(filepath.Join(dir, "concord.yaml"), []byte(head+yaml), reg, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	require.NoError(t, err)
	return cfg
}

// TestDelivery_EndToEnd runs the store rule through a real SMTP server (with
// STARTTLS and PLAIN authentication, the password from a file: reference)
// and a local HTTP receiver of each webhook format (the URL and the header's
// secret from env: references): the alert fires once, repeats after repeat,
// and is resolved with a message; no secret reaches a log line.
func TestDelivery_EndToEnd(t *testing.T) {
	t.Parallel()
	const (
		password = "s3cret-from-a-file"
		token    = "Bearer token-from-env"
	)
	mx := startSMTP(t, "concord", password)
	hook := startReceiver(t)
	slack := startReceiver(t)
	slackURL := slack.URL + "/services/T000/B000/slack-url-token"

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "smtp_password"), []byte(password+"\n"), 0o600))
	env := map[string]string{"ALERT_TOKEN": token, "SLACK_URL": slackURL}
	cfg := loadAlerts(t, dir, fmt.Sprintf(`alerts:
  repeat: 1h
  email:
    host: 127.0.0.1
    port: %d
    from: concord@example.com
    username: concord
    password: file:smtp_password
  webhook: {url: %q, header: Authorization, secret: env:ALERT_TOKEN}
`, mx.port, hook.URL+"/alerts"), env)
	slackCfg := loadAlerts(t, dir, "alerts:\n  webhook: {url: env:SLACK_URL, format: slack}\n", env)
	require.Equal(t, config.SMTPStartTLS, cfg.Alerts.Email.Security, "starttls by default")

	notifiers := alert.Notifiers(cfg.Alerts)
	require.Len(t, notifiers, 2)
	notifiers[0].(*alert.Email).TLS = &tls.Config{RootCAs: mx.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	notifiers = append(notifiers, alert.Notifiers(slackCfg.Alerts)...)

	var logs bytes.Buffer
	var mu sync.Mutex
	now := t0
	e := alert.New(alert.Params{
		Config: cfg.Alerts, Notifiers: notifiers, Owner: cfg.Owner, Now: func() time.Time { return now },
		Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ctx := context.Background()
	broken := health.Snapshot{Store: health.Store{Writable: false, LastError: "disk I/O error"}}
	fine := health.Snapshot{Store: health.Store{Writable: true}}

	// wantAll checks one notice on each of the three channels.
	wantAll := func(t *testing.T, title string, text ...string) {
		t.Helper()
		m := mx.take()
		require.Len(t, m, 1)
		require.Equal(t, "concord", m[0].user)
		require.Equal(t, password, m[0].password, "the file: password reached SMTP AUTH")
		require.True(t, m[0].tls, "STARTTLS before AUTH")
		require.Equal(t, "concord@example.com", m[0].from)
		require.Equal(t, []string{"jane.doe@example.com"}, m[0].to, "to defaults to the owner")
		require.Contains(t, m[0].data, "Subject: "+title+"\r\n")
		require.Contains(t, m[0].data, "To: jane.doe@example.com\r\n")
		for _, s := range text {
			require.Contains(t, m[0].data, s)
		}

		bodies, auth := hook.take()
		require.Len(t, bodies, 1)
		require.Equal(t, []string{token}, auth, "the env: secret is the header's value")
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(bodies[0]), &got))
		require.Equal(t, title, got["title"])
		require.Equal(t, "store", got["rule"])
		require.Equal(t, map[string]any{"kind": "store"}, got["subject"])
		require.Equal(t, "jane.doe@example.com", got["owner"])
		for _, s := range text {
			require.Contains(t, got["text"], s)
		}

		bodies, auth = slack.take()
		require.Len(t, bodies, 1)
		require.Equal(t, []string{""}, auth)
		var sl map[string]string
		require.NoError(t, json.Unmarshal([]byte(bodies[0]), &sl))
		require.Len(t, sl, 1, "slack: text only")
		require.True(t, strings.HasPrefix(sl["text"], "*"+title+"*\n"), sl["text"])
	}
	none := func(t *testing.T) {
		t.Helper()
		require.Empty(t, mx.take())
		b, _ := hook.take()
		require.Empty(t, b)
		b, _ = slack.take()
		require.Empty(t, b)
	}

	e.Evaluate(ctx, broken)
	none(t)
	now = now.Add(time.Minute)
	e.Evaluate(ctx, broken)
	wantAll(t, "[concord] FIRING store: store", "the store has not been writable for 1m0s; last error: disk I/O error", "What to do: check the store's disk space")

	hook.mu.Lock()
	hook.fail = 1 // the next post fails: retried at the next evaluation
	hook.mu.Unlock()
	for range 3 {
		now = now.Add(20 * time.Minute)
		e.Evaluate(ctx, broken)
	}
	m := mx.take()
	require.Len(t, m, 1)
	require.Contains(t, m[0].data, "Subject: [concord] STILL FIRING store: store\r\n")
	require.Contains(t, m[0].data, "the store has not been writable for 1h1m0s")
	b, _ := hook.take()
	require.Empty(t, b, "the webhook answered 503")
	b, _ = slack.take()
	require.Len(t, b, 1)

	now = now.Add(time.Minute)
	e.Evaluate(ctx, fine)
	bodies, _ := hook.take()
	require.Len(t, bodies, 2, "the repeat, retried, then the resolution")
	require.Contains(t, bodies[0], `"title":"[concord] STILL FIRING store: store"`)
	require.Contains(t, bodies[1], `"status":"resolved"`)
	m = mx.take()
	require.Len(t, m, 1)
	require.Contains(t, m[0].data, "Subject: [concord] RESOLVED store: store\r\n")
	require.Contains(t, m[0].data, "Resolved after 1h1m0s (firing since 2026-03-02T09:01:00Z)")
	b, _ = slack.take()
	require.Len(t, b, 1)
	require.Contains(t, b[0], "RESOLVED store: store")

	now = now.Add(2 * time.Hour)
	e.Evaluate(ctx, fine)
	none(t)

	out := logs.String()
	require.Contains(t, out, `"msg":"alert fired"`)
	require.Contains(t, out, `"msg":"alert resolved"`)
	require.Contains(t, out, `"msg":"alert delivery failed, retrying at the next evaluation","channel":"webhook"`)
	require.Contains(t, out, `503 Service Unavailable`)
	for _, secret := range []string{password, "token-from-env", "slack-url-token", "/alerts"} {
		require.NotContains(t, out, secret, "a secret reached a log line")
	}
}

// TestEmail_Security covers the connection modes other than starttls.
func TestEmail_Security(t *testing.T) {
	t.Parallel()
	n := alert.Notice{Rule: "lag", Subject: alert.Subject{Kind: alert.KindFlow, Name: "customers"}, State: alert.Firing, Since: t0, At: t0, Summary: "flow customers is 20m0s behind"}

	t.Run("NoneToLocalhost", func(t *testing.T) {
		t.Parallel()
		mx := startSMTP(t, "concord", "pw")
		em := alert.NewEmail(config.AlertEmail{Host: "127.0.0.1", Port: mx.port, Security: config.SMTPNone, From: "concord@example.com",
			To: []string{"a@example.com", "b@example.com"}, Username: "concord", Password: "pw"})
		require.NoError(t, em.Notify(context.Background(), n))
		m := mx.take()
		require.Len(t, m, 1)
		require.False(t, m[0].tls)
		require.Equal(t, []string{"a@example.com", "b@example.com"}, m[0].to)
		require.Contains(t, m[0].data, "Subject: [concord] FIRING lag: flow customers\r\n")
	})

	t.Run("ErrPlainAuth", func(t *testing.T) {
		t.Parallel()
		em := alert.NewEmail(config.AlertEmail{Host: "smtp.example.com", Port: 25, Security: config.SMTPNone, From: "c@example.com",
			To: []string{"a@example.com"}, Username: "concord", Password: "pw"})
		require.ErrorIs(t, em.Notify(context.Background(), n), alert.ErrPlainAuth)
	})

	t.Run("ErrStartTLSUntrusted", func(t *testing.T) {
		t.Parallel()
		mx := startSMTP(t, "", "")
		em := alert.NewEmail(config.AlertEmail{Host: "127.0.0.1", Port: mx.port, Security: config.SMTPStartTLS, From: "c@example.com", To: []string{"a@example.com"}})
		err := em.Notify(context.Background(), n)
		require.ErrorContains(t, err, "smtp send 127.0.0.1:")
		require.ErrorContains(t, err, "certificate signed by unknown authority")
		require.Empty(t, mx.take())
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never greets
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		em := alert.NewEmail(config.AlertEmail{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Security: config.SMTPNone, From: "c@example.com", To: []string{"a@example.com"}})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err = em.Notify(ctx, n)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 5*time.Second)
	})
}
