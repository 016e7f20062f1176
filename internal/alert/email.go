package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/concord-sync/concord/internal/config"
)

// Email sends notices by e-mail over SMTP: one message per notice, to every
// recipient.
type Email struct {
	cfg config.AlertEmail
	// TLS is the TLS configuration for starttls and tls; nil means the system's
	// roots and the configured host as server name. Tests set their own roots.
	TLS *tls.Config
}

var _ Notifier = (*Email)(nil)

// NewEmail returns an SMTP notifier for cfg. It connects to nothing until a
// notice is sent.
func NewEmail(cfg config.AlertEmail) *Email { return &Email{cfg: cfg} }

// Channel implements Notifier.
func (*Email) Channel() string { return "email" }

// ErrPlainAuth is returned when a password would cross the network in plain
// text: security none to a host other than the local machine.
var ErrPlainAuth = errors.New("refusing to send the SMTP password without TLS to a remote host; use security: starttls or tls")

// Notify implements Notifier: it connects, upgrades to TLS (starttls) or
// starts with it (tls), authenticates with PLAIN when a username is set, and
// sends the message. The whole exchange is bounded by ctx. Errors never hold
// the password.
func (m *Email) Notify(ctx context.Context, n Notice) error {
	c := m.cfg
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	if c.Username != "" && c.Security == config.SMTPNone && !isLoopback(c.Host) {
		return ErrPlainAuth
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp connect %s: %w", addr, err)
	}
	// The client sets its own deadline per command; ctx bounds the whole.
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	tlsCfg := m.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}
	}
	var cl *smtp.Client
	switch c.Security {
	case config.SMTPTLS:
		cl = smtp.NewClient(tls.Client(conn, tlsCfg))
	case config.SMTPNone:
		cl = smtp.NewClient(conn)
	default:
		cl, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			return ctxErr(ctx, fmt.Errorf("smtp starttls %s: %w", addr, err))
		}
	}
	defer cl.Close()
	if c.Username != "" {
		if err := cl.Auth(sasl.NewPlainClient("", c.Username, c.Password)); err != nil {
			return ctxErr(ctx, fmt.Errorf("smtp auth %s as %s: %w", addr, c.Username, err))
		}
	}
	msg, err := message(c.From, c.To, n)
	if err != nil {
		return err
	}
	if err := cl.SendMail(c.From, c.To, bytes.NewReader(msg)); err != nil {
		return ctxErr(ctx, fmt.Errorf("smtp send %s: %w", addr, err))
	}
	_ = cl.Quit()
	return nil
}

// message renders n as an RFC 5322 message in plain text.
func message(from string, to []string, n Notice) ([]byte, error) {
	id := make([]byte, 12)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("message id: %w", err)
	}
	domain := "concord.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok {
		domain = d
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", n.Title()))
	h("Date", n.At.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.TrimRight(n.Text(), "\n"), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.Bytes(), nil
}

// isLoopback reports whether host is the local machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ctxErr prefers ctx's error to the one a closed connection gave.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return err
}
