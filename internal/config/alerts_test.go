package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

func TestLoad_Alerts(t *testing.T) {
	t.Parallel()
	const head = "version: 1\nowner: jane.doe@example.com\nsystems: [{name: crm, connector: sql, settings: {table: x}}]\n"
	parse := func(t *testing.T, dir, yaml string) *config.Config {
		t.Helper()
		cfg, err := config.Parse(filepath.Join(dir, "concord.yaml"), []byte(head+yaml), testRegistry(), lookupEnv)
		require.NoError(t, err)
		return cfg
	}

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg := parse(t, t.TempDir(), "")
		require.Equal(t, config.DefaultAlerts(), cfg.Alerts)
		a := cfg.Alerts
		require.Equal(t, 15*time.Second, a.Every)
		require.Equal(t, 4*time.Hour, a.Repeat)
		for _, on := range []bool{a.Lag.Enabled, a.StalePoll.Enabled, a.Silence.Enabled, a.ErrorRate.Enabled, a.DeadLetters.Enabled,
			a.Quarantine.Enabled, a.WebhookRefusals.Enabled, a.Unreachable.Enabled, a.Store.Enabled, a.Reviews.Enabled} {
			require.True(t, on, "every rule is on by default")
		}
		require.Nil(t, a.Email)
		require.Nil(t, a.Webhook)
	})

	t.Run("Rules", func(t *testing.T) {
		t.Parallel()
		cfg := parse(t, t.TempDir(), `alerts:
  every: 5s
  repeat: 1h
  rules:
    lag: {over: 30m}
    stale_poll: {enabled: false}
    silence: {factor: 4, min: 10m, learn: 3}
    error_rate: {over: 0.5, window: 5m, min_records: 2}
    dead_letters: {over: 3, window: 2h}
    quarantine: {enabled: false}
    webhook_refusals: {over: 1}
    unreachable: {after: 1m}
    store: {after: 30s}
    reviews: {after: 2h}
`)
		a := cfg.Alerts
		require.Equal(t, 5*time.Second, a.Every)
		require.Equal(t, time.Hour, a.Repeat)
		require.Equal(t, config.AlertRule{Enabled: true, After: 30 * time.Minute}, a.Lag)
		require.False(t, a.StalePoll.Enabled)
		require.Equal(t, 15*time.Minute, a.StalePoll.After, "a rule turned off keeps its default")
		require.Equal(t, config.SilenceRule{Enabled: true, Factor: 4, Min: 10 * time.Minute, Learn: 3}, a.Silence)
		require.Equal(t, config.ErrorRateRule{Enabled: true, Over: 0.5, Window: 5 * time.Minute, MinRecords: 2}, a.ErrorRate)
		require.Equal(t, config.GrowthRule{Enabled: true, Over: 3, Window: 2 * time.Hour}, a.DeadLetters)
		require.False(t, a.Quarantine.Enabled)
		require.Equal(t, config.GrowthRule{Enabled: true, Over: 1, Window: time.Hour}, a.WebhookRefusals)
		require.Equal(t, time.Minute, a.Unreachable.After)
		require.Equal(t, 30*time.Second, a.Store.After)
		require.Equal(t, 2*time.Hour, a.Reviews.After)
	})

	t.Run("EmailToOwner", func(t *testing.T) {
		t.Parallel()
		cfg := parse(t, t.TempDir(), "alerts:\n  email: {host: smtp.example.com, from: concord@example.com, username: concord, password: env:SMTP_PASSWORD}\n")
		require.Equal(t, &config.AlertEmail{
			Host: "smtp.example.com", Port: 587, Security: config.SMTPStartTLS, From: "concord@example.com",
			To: []string{"jane.doe@example.com"}, Username: "concord", Password: "smtp-pw-from-env",
		}, cfg.Alerts.Email)
	})

	t.Run("EmailPorts", func(t *testing.T) {
		t.Parallel()
		for sec, port := range map[string]int{"tls": 465, "none": 25, "starttls": 587} {
			cfg := parse(t, t.TempDir(), "alerts:\n  email: {host: mx, from: a@example.com, to: [b@example.com], security: "+sec+"}\n")
			require.Equal(t, port, cfg.Alerts.Email.Port, sec)
			require.Equal(t, []string{"b@example.com"}, cfg.Alerts.Email.To)
		}
		cfg := parse(t, t.TempDir(), "alerts:\n  email: {host: mx, from: a@example.com, port: 2525, security: none}\n")
		require.Equal(t, 2525, cfg.Alerts.Email.Port)
	})

	t.Run("WebhookSecretsFromFileAndEnv", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "alert_token"), []byte("Bearer from-a-file\n"), 0o600))
		cfg := parse(t, dir, "alerts:\n  webhook: {url: env:ALERT_WEBHOOK_URL, format: slack, header: Authorization, secret: file:alert_token}\n")
		require.Equal(t, &config.AlertWebhook{
			URL: "https://hooks.example.com/services/T0/B0/token-from-env", Format: config.AlertFormatSlack,
			Header: "Authorization", Secret: "Bearer from-a-file",
		}, cfg.Alerts.Webhook)

		cfg = parse(t, dir, "alerts:\n  webhook: {url: \"http://127.0.0.1:9000/alerts\"}\n")
		require.Equal(t, &config.AlertWebhook{URL: "http://127.0.0.1:9000/alerts", Format: config.AlertFormatJSON}, cfg.Alerts.Webhook)
	})
}
