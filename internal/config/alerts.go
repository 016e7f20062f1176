package config

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
)

// Alerts says when `concord serve` tells the owner that something is wrong,
// and how. Every rule is on by default; a rule's Enabled false turns it off.
type Alerts struct {
	// Every is how often serve evaluates the rules.
	Every time.Duration
	// Repeat is how often an alert that lasts is sent again.
	Repeat time.Duration
	// Lag fires when a flow's lag (the age of the oldest change read and not
	// applied) is over Lag.After.
	Lag AlertRule
	// StalePoll fires when a flow has had no successful poll for After (and at
	// least three of its poll intervals).
	StalePoll AlertRule
	// Silence fires when a flow's polls succeed but read nothing for far
	// longer than its usual interval between changes.
	Silence SilenceRule
	// ErrorRate fires when the share of a flow's records that failed over a
	// window is over a threshold.
	ErrorRate ErrorRateRule
	// DeadLetters, Quarantine and WebhookRefusals fire when the count grew by
	// at least Over within Window.
	DeadLetters     GrowthRule
	Quarantine      GrowthRule
	WebhookRefusals GrowthRule
	// Unreachable fires when a system has been unreachable for After.
	Unreachable AlertRule
	// Store fires when the store has not been writable for After.
	Store AlertRule
	// Reviews fires when a pair has waited in `concord match` for After.
	Reviews AlertRule
	// Drift fires on the findings of the last scheduled reconcile.
	Drift DriftRule
	// Email and Webhook are the channels; nil when not configured. Without
	// any, alerts are only logged.
	Email   *AlertEmail
	Webhook *AlertWebhook
}

// AlertRule is a rule with one duration threshold.
type AlertRule struct {
	Enabled bool
	After   time.Duration
}

// SilenceRule is the count-deviation rule: a flow whose successful polls read
// nothing for Factor times its usual interval between changes (the median of
// the last ones seen since start), and at least Min, once Learn intervals have
// been seen.
type SilenceRule struct {
	Enabled bool
	Factor  int
	Min     time.Duration
	Learn   int
}

// ErrorRateRule fires when more than Over (a share in (0,1]) of a flow's
// records failed within Window, counting only windows of at least MinRecords
// records.
type ErrorRateRule struct {
	Enabled    bool
	Over       float64
	Window     time.Duration
	MinRecords int
}

// GrowthRule fires when a count rose by at least Over above its lowest value
// within Window.
type GrowthRule struct {
	Enabled bool
	Over    int
	Window  time.Duration
}

// SMTP connection security of AlertEmail.Security.
const (
	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNone     = "none"
)

// SMTPSecurities are the accepted values of alerts.email.security.
var SMTPSecurities = []string{SMTPStartTLS, SMTPTLS, SMTPNone}

// AlertEmail sends alerts by e-mail over SMTP.
type AlertEmail struct {
	Host string
	Port int
	// Security is SMTPStartTLS (the default), SMTPTLS (implicit TLS, port
	// 465) or SMTPNone (plain text; authentication is then refused unless the
	// host is the local machine).
	Security string
	From     string
	// To defaults to the config's owner when that is an e-mail address.
	To       []string
	Username string
	// Password is resolved from its env: or file: reference. Never log it.
	Password string
}

// Webhook body formats of AlertWebhook.Format.
const (
	AlertFormatJSON  = "json"
	AlertFormatSlack = "slack"
)

// AlertFormats are the accepted values of alerts.webhook.format.
var AlertFormats = []string{AlertFormatJSON, AlertFormatSlack}

// AlertWebhook posts alerts to a URL.
type AlertWebhook struct {
	// URL is resolved when given as a reference (a Slack URL is a secret).
	// Never log it.
	URL    string
	Format string
	// Header, when set, is sent with the value Secret (resolved).
	Header string
	Secret string
}

// DefaultAlerts returns the alert rules with their defaults and no channel.
func DefaultAlerts() Alerts {
	return Alerts{
		Every:           15 * time.Second,
		Repeat:          4 * time.Hour,
		Lag:             AlertRule{Enabled: true, After: 15 * time.Minute},
		StalePoll:       AlertRule{Enabled: true, After: 15 * time.Minute},
		Silence:         SilenceRule{Enabled: true, Factor: 10, Min: time.Hour, Learn: 5},
		ErrorRate:       ErrorRateRule{Enabled: true, Over: 0.2, Window: 15 * time.Minute, MinRecords: 10},
		DeadLetters:     GrowthRule{Enabled: true, Over: 1, Window: time.Hour},
		Quarantine:      GrowthRule{Enabled: true, Over: 1, Window: time.Hour},
		WebhookRefusals: GrowthRule{Enabled: true, Over: 5, Window: time.Hour},
		Unreachable:     AlertRule{Enabled: true, After: 5 * time.Minute},
		Store:           AlertRule{Enabled: true, After: time.Minute},
		Reviews:         AlertRule{Enabled: true, After: 24 * time.Hour},
		Drift:           DriftRule{Enabled: true, Over: 1},
	}
}

func enabled() *jsonSchema {
	return &jsonSchema{Type: "boolean", Default: true, Description: "false turns the rule off."}
}

func rule(desc string, props map[string]*jsonSchema) *jsonSchema {
	props["enabled"] = enabled()
	return object(desc, props)
}

func growthSchema(desc string, over int) *jsonSchema {
	return rule(desc, map[string]*jsonSchema{
		"over":   positive("How much the count must grow within the window.", over),
		"window": duration("The window the growth is measured over.", "1h"),
	})
}

var alertsSchema = object("When `concord serve` alerts the owner, and how (see docs/alerts.md). Optional: every rule is on with its default; without email or webhook, alerts are only logged.", map[string]*jsonSchema{
	"every":  duration("How often serve evaluates the rules.", "15s"),
	"repeat": duration("How often an alert that lasts is sent again.", "4h"),
	"rules": object("The rules; each is on by default, enabled: false turns one off.", map[string]*jsonSchema{
		"lag": rule("A flow's lag (the age of the oldest change read and not yet applied) is over a threshold.", map[string]*jsonSchema{
			"over": duration("The lag that fires the alert.", "15m"),
		}),
		"stale_poll": rule("A flow has had no successful poll for a while.", map[string]*jsonSchema{
			"after": duration("How long without a successful poll (at least three poll intervals of the flow).", "15m"),
		}),
		"silence": rule("A flow's polls succeed but read nothing for far longer than its usual interval between changes (count deviation).", map[string]*jsonSchema{
			"factor": positive("How many times the usual interval between changes.", 10),
			"min":    duration("The shortest silence that fires.", "1h"),
			"learn":  positive("How many intervals between changes serve must have seen before it judges.", 5),
		}),
		"error_rate": rule("The share of a flow's records that failed within a window is over a threshold.", map[string]*jsonSchema{
			"over":        {Type: "number", ExclusiveMinimum: ptr(0), Maximum: ptr(1), Default: 0.2, Description: "The share of failed records (0.2 is 20%) that fires."},
			"window":      duration("The window the share is measured over.", "15m"),
			"min_records": positive("The fewest records in the window for the share to count.", 10),
		}),
		"dead_letters":     growthSchema("A flow's open dead letters grew.", 1),
		"quarantine":       growthSchema("A flow's records in quarantine grew.", 1),
		"webhook_refusals": growthSchema("A system's refused webhook deliveries (forged, stale, malformed) grew.", 5),
		"unreachable": rule("A system has been unreachable for a while.", map[string]*jsonSchema{
			"after": duration("How long unreachable.", "5m"),
		}),
		"store": rule("The store has not been writable for a while.", map[string]*jsonSchema{
			"after": duration("How long not writable.", "1m"),
		}),
		"reviews": rule("A pair has waited in `concord match` for a while.", map[string]*jsonSchema{
			"after": duration("How long the oldest pair may wait.", "24h"),
		}),
		"drift": driftRuleSchema,
	}),
	"email": object("Send alerts by e-mail over SMTP.", map[string]*jsonSchema{
		"host":     {Type: "string", MinLength: ptr(1), Description: "The SMTP server."},
		"port":     {Type: "integer", Minimum: ptr(1), Maximum: ptr(65535), Description: "The SMTP port; default 587 for starttls, 465 for tls, 25 for none."},
		"security": {Type: "string", Enum: strEnum(SMTPSecurities), Default: SMTPStartTLS, Description: "starttls: upgrade the connection with STARTTLS (required); tls: TLS from the start (port 465); none: plain text (authentication then only to the local machine)."},
		"from":     str("The sender address."),
		"to":       {Type: "array", MinItems: ptr(1), Items: &jsonSchema{Type: "string"}, Description: "The recipients; default the config's owner."},
		"username": str("The SMTP user, when the server needs authentication."),
		"password": str("The SMTP password, as env:NAME or file:PATH. " + secretRefDoc),
	}, "host", "from"),
	"webhook": object("Post alerts to a URL.", map[string]*jsonSchema{
		"url":    str("The URL; as env:NAME or file:PATH when it holds a token (a Slack incoming webhook does)."),
		"format": {Type: "string", Enum: strEnum(AlertFormats), Default: AlertFormatJSON, Description: "json: a JSON object per alert (see docs/alerts.md); slack: Slack's {\"text\": ...} body."},
		"header": str("A header sent with every post, such as Authorization; its value is secret."),
		"secret": str("The header's value, as env:NAME or file:PATH."),
	}, "url"),
})

func (l *loader) alerts(n *node) {
	a := &l.cfg.Alerts
	m := l.object(n, "alerts", alertsSchema)
	if v, ok := l.duration(m["every"].v, "alerts.every"); ok {
		a.Every = v
	}
	if v, ok := l.duration(m["repeat"].v, "alerts.repeat"); ok {
		a.Repeat = v
	}
	rules := l.object(m["rules"].v, "alerts.rules", alertsSchema.Properties["rules"])
	ruleSchema := func(name string) *jsonSchema { return alertsSchema.Properties["rules"].Properties[name] }
	// open decodes a rule's mapping and its enabled key.
	open := func(name string, on *bool) map[string]entry {
		where := "alerts.rules." + name
		r := l.object(rules[name].v, where, ruleSchema(name))
		if v, ok := l.boolean(r["enabled"].v, where+".enabled"); ok {
			*on = v
		}
		return r
	}
	after := func(name, key string, ar *AlertRule) {
		r := open(name, &ar.Enabled)
		if v, ok := l.duration(r[key].v, "alerts.rules."+name+"."+key); ok {
			ar.After = v
		}
	}
	after("lag", "over", &a.Lag)
	after("stale_poll", "after", &a.StalePoll)
	after("unreachable", "after", &a.Unreachable)
	after("store", "after", &a.Store)
	after("reviews", "after", &a.Reviews)

	s := open("silence", &a.Silence.Enabled)
	if v, ok := l.integer(s["factor"].v, "alerts.rules.silence.factor", 2); ok {
		a.Silence.Factor = v
	}
	if v, ok := l.duration(s["min"].v, "alerts.rules.silence.min"); ok {
		a.Silence.Min = v
	}
	if v, ok := l.integer(s["learn"].v, "alerts.rules.silence.learn", 2); ok {
		a.Silence.Learn = v
	}

	e := open("error_rate", &a.ErrorRate.Enabled)
	if v, ok := l.share(e["over"].v, "alerts.rules.error_rate.over"); ok {
		a.ErrorRate.Over = v
	}
	if v, ok := l.duration(e["window"].v, "alerts.rules.error_rate.window"); ok {
		a.ErrorRate.Window = v
	}
	if v, ok := l.integer(e["min_records"].v, "alerts.rules.error_rate.min_records", 1); ok {
		a.ErrorRate.MinRecords = v
	}

	growth := func(name string, g *GrowthRule) {
		r := open(name, &g.Enabled)
		if v, ok := l.integer(r["over"].v, "alerts.rules."+name+".over", 1); ok {
			g.Over = v
		}
		if v, ok := l.duration(r["window"].v, "alerts.rules."+name+".window"); ok {
			g.Window = v
		}
	}
	growth("dead_letters", &a.DeadLetters)
	growth("quarantine", &a.Quarantine)
	growth("webhook_refusals", &a.WebhookRefusals)
	if v, ok := l.integer(open("drift", &a.Drift.Enabled)["over"].v, "alerts.rules.drift.over", 1); ok {
		a.Drift.Over = v
	}

	if e, ok := m["email"]; ok && e.v.kind != kindNull {
		a.Email = l.alertEmail(e.v)
	}
	if w, ok := m["webhook"]; ok && w.v.kind != kindNull {
		a.Webhook = l.alertWebhook(w.v)
	}
}

// share decodes a number in (0, 1].
func (l *loader) share(n *node, where string) (float64, bool) {
	v, ok := l.number(n, where, "a share between 0 and 1 such as 0.2")
	if ok && (v <= 0 || v > 1) {
		l.add(n, "%s: %g is out of range; want a share above 0 and at most 1 (0.2 is 20%%)", where, v)
		return 0, false
	}
	return v, ok
}

func (l *loader) alertEmail(n *node) *AlertEmail {
	const where = "alerts.email"
	m := l.object(n, where, alertsSchema.Properties["email"])
	em := &AlertEmail{Security: SMTPStartTLS}
	if n.kind != kindMap {
		return em
	}
	host, ok := l.str(m["host"].v, where+".host")
	if !ok || strings.TrimSpace(host) == "" {
		at := n
		if e, has := m["host"]; has {
			at = e.v
		}
		l.add(at, "%s needs host: the SMTP server (host: smtp.example.com)", where)
	}
	em.Host = host
	if v, ok := l.enum(m["security"].v, where+".security", SMTPSecurities); ok {
		em.Security = v
	}
	switch em.Security {
	case SMTPTLS:
		em.Port = 465
	case SMTPNone:
		em.Port = 25
	default:
		em.Port = 587
	}
	if e, has := m["port"]; has {
		if v, ok := l.integer(e.v, where+".port", 1); ok {
			if v > 65535 {
				l.add(e.v, "%s.port: %d is out of range; want at most 65535", where, v)
			}
			em.Port = v
		}
	}
	from, ok := l.str(m["from"].v, where+".from")
	switch {
	case !ok:
		if _, has := m["from"]; !has {
			l.add(n, "%s needs from: the sender address (from: concord@example.com)", where)
		}
	case !isAddress(from):
		l.add(m["from"].v, "%s.from: %q is not an e-mail address", where, from)
	}
	em.From = from
	if e, has := m["to"]; has {
		items := l.list(e.v, where+".to")
		if e.v.kind == kindSeq && len(items) == 0 {
			l.add(e.v, "%s.to is empty; name at least one recipient, or leave it out to mail the owner", where)
		}
		for i, it := range items {
			s, ok := l.str(it, fmt.Sprintf("%s.to[%d]", where, i))
			if !ok {
				continue
			}
			if !isAddress(s) {
				l.add(it, "%s.to[%d]: %q is not an e-mail address", where, i, s)
				continue
			}
			em.To = append(em.To, s)
		}
	} else if isAddress(l.cfg.Owner) {
		em.To = []string{l.cfg.Owner}
	} else if l.cfg.Owner != "" {
		l.add(n, "%s needs to: the owner %q is not an e-mail address", where, l.cfg.Owner)
	}
	user, hasUser := l.str(m["username"].v, where+".username")
	em.Username = user
	if e, has := m["password"]; has {
		if v, ok := l.secretValue(l.res, e.v, where+".password"); ok {
			em.Password = v
		}
		if !hasUser {
			l.add(e.k, "%s.password needs username", where)
		}
	} else if hasUser {
		l.add(m["username"].k, "%s.username needs password (password: env:SMTP_PASSWORD)", where)
	}
	return em
}

func (l *loader) alertWebhook(n *node) *AlertWebhook {
	const where = "alerts.webhook"
	m := l.object(n, where, alertsSchema.Properties["webhook"])
	w := &AlertWebhook{Format: AlertFormatJSON}
	if n.kind != kindMap {
		return w
	}
	if e, has := m["url"]; !has {
		l.add(n, "%s needs url: where to post alerts", where)
	} else if _, ok := l.str(e.v, where+".url"); ok {
		if v, ok := l.maybeSecret(l.res, e.v, where+".url", true); ok {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				// The URL may be a secret: never repeat it.
				l.add(e.v, "%s.url is not an http or https URL", where)
			}
			w.URL = v
		}
	}
	if v, ok := l.enum(m["format"].v, where+".format", AlertFormats); ok {
		w.Format = v
	}
	header, hasHeader := l.str(m["header"].v, where+".header")
	if hasHeader && !isHeaderName(header) {
		l.add(m["header"].v, "%s.header: %q is not a header name", where, header)
	}
	w.Header = header
	if e, has := m["secret"]; has {
		if v, ok := l.secretValue(l.res, e.v, where+".secret"); ok {
			w.Secret = v
		}
		if !hasHeader {
			l.add(e.k, "%s.secret needs header: the header that carries it (header: Authorization)", where)
		}
	} else if hasHeader {
		l.add(m["header"].k, "%s.header needs secret: its value as env:NAME or file:PATH", where)
	}
	return w
}

// isAddress reports whether s is one plain e-mail address.
func isAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// isHeaderName reports whether s is an HTTP header name (an RFC 7230 token).
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c > 127 || !(c == '-' || c == '_' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
			c == '\'' || c == '*' || c == '+' || c == '.' || c == '^' || c == '`' || c == '|' || c == '~' ||
			('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
			return false
		}
	}
	return true
}
