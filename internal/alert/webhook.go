package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/concord-sync/concord/internal/config"
)

// Webhook posts notices to a URL: a JSON object per notice (format json) or
// Slack's {"text": ...} body (format slack).
type Webhook struct {
	cfg    config.AlertWebhook
	client *http.Client
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook returns a webhook notifier for cfg. client nil means a client
// of its own; the timeout comes from each call's ctx.
func NewWebhook(cfg config.AlertWebhook, client *http.Client) *Webhook {
	if client == nil {
		client = &http.Client{}
	}
	return &Webhook{cfg: cfg, client: client}
}

// Channel implements Notifier.
func (*Webhook) Channel() string { return "webhook" }

// jsonBody is the body of format json.
type jsonBody struct {
	Notice
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Notify implements Notifier: one POST; any answer but 2xx is an error.
// Errors never hold the URL (it may carry a token) nor the secret header.
func (w *Webhook) Notify(ctx context.Context, n Notice) error {
	var body any = jsonBody{Notice: n, Title: n.Title(), Text: n.Text()}
	if w.cfg.Format == config.AlertFormatSlack {
		body = struct {
			Text string `json:"text"`
		}{"*" + n.Title() + "*\n" + n.Text()}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(b))
	if err != nil {
		return errors.New("alert webhook: invalid url")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "concord-alerts")
	if w.cfg.Header != "" {
		req.Header.Set(w.cfg.Header, w.cfg.Secret)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL
		}
		return fmt.Errorf("alert webhook post to %s: %w", w.host(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alert webhook post to %s: answered %s", w.host(), resp.Status)
	}
	return nil
}

// host is the URL's host alone, safe to log.
func (w *Webhook) host() string {
	u, err := url.Parse(w.cfg.URL)
	if err != nil {
		return "?"
	}
	return u.Host
}
