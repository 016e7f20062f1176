package config_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/config"
)

// hash is a bcrypt hash (of "correct horse").
const hash = "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"

func TestLoad_Console(t *testing.T) {
	t.Parallel()
	const head = "version: 1\nowner: ops@example.com\nsystems: [{name: crm, connector: sql, settings: {table: t}}]\n"
	env := func(name string) (string, bool) {
		switch name {
		case "ALICE_HASH":
			return hash, true
		case "API_TOKEN":
			return strings.Repeat("t", 40), true
		case "SHORT":
			return "short", true
		case "SECRET":
			return strings.Repeat("s", 32), true
		}
		return "", false
	}
	parse := func(t *testing.T, console string) (*config.Config, error) {
		t.Helper()
		return config.Parse(filepath.Join(t.TempDir(), "concord.yaml"), []byte(head+console), testRegistry(), env)
	}

	t.Run("OffByDefault", func(t *testing.T) {
		t.Parallel()
		cfg, err := parse(t, "")
		require.NoError(t, err)
		require.False(t, cfg.Console.Enabled())
		require.Equal(t, config.DefaultSessionTTL, cfg.Console.SessionTTL)
		require.True(t, cfg.Console.SecureCookie)
	})
	t.Run("Users", func(t *testing.T) {
		t.Parallel()
		cfg, err := parse(t, `console:
  session_ttl: 1h
  secure_cookie: false
  session_secret: env:SECRET
  users:
    - {name: alice, role: operator, password_hash: env:ALICE_HASH}
    - {name: bot, token: env:API_TOKEN}
    - name: carol
      password_hash: '`+hash+`'
`)
		require.NoError(t, err)
		c := cfg.Console
		require.True(t, c.Enabled())
		require.Equal(t, time.Hour, c.SessionTTL)
		require.False(t, c.SecureCookie)
		require.Equal(t, strings.Repeat("s", 32), c.SessionSecret)
		require.Len(t, c.Users, 3)
		require.Equal(t, config.ConsoleUser{Name: "alice", Role: config.RoleOperator, PasswordHash: hash, Line: 9}, c.Users[0])
		require.Equal(t, config.ConsoleUser{Name: "bot", Role: config.RoleViewer, Token: strings.Repeat("t", 40), Line: 10}, c.Users[1])
		require.Equal(t, hash, c.Users[2].PasswordHash, "a hash may be inline")
	})
	for _, tt := range []struct{ name, console, want string }{
		{"InlineToken", "console: {users: [{name: a, token: abcdefabcdefabcdefabcdefabcdefabcdef}]}\n", "inline secret in console.users[0].token; use env:NAME or file:PATH"},
		{"ShortToken", "console: {users: [{name: a, token: env:SHORT}]}\n", "console.users[0].token: the token is 5 characters; use at least 32"},
		{"NotAHash", "console: {users: [{name: a, password_hash: hunter2}]}\n", "console.users[0].password_hash is not a bcrypt hash"},
		{"NoCredential", "console: {users: [{name: a, role: operator}]}\n", "console.users[0]: give password_hash, token or both"},
		{"Twice", "console: {users: [{name: a, token: env:API_TOKEN}, {name: A, token: env:API_TOKEN}]}\n", `console.users[1].name: "A" is configured twice`},
		{"BadRole", "console: {users: [{name: a, role: admin, token: env:API_TOKEN}]}\n", "console.users[0].role"},
		{"ShortSecret", "console: {session_secret: env:SHORT, users: [{name: a, token: env:API_TOKEN}]}\n", "console.session_secret: the secret is 5 characters"},
		{"Unknown", "console: {users: [{name: a, token: env:API_TOKEN, pasword: x}]}\n", "pasword"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parse(t, tt.console)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "concord.yaml:4:", "the message names the line")
			require.NotContains(t, err.Error(), strings.Repeat("t", 40), "no secret in messages")
		})
	}
}

func TestLoad_MaxConcurrency(t *testing.T) {
	t.Parallel()
	const head = "version: 1\nowner: ops@example.com\n"
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "concord.yaml"), []byte(head+"systems: [{name: erp, connector: sql, max_concurrency: 2, settings: {table: t}}]\n"), testRegistry(), nil)
	require.NoError(t, err)
	require.Equal(t, 2, cfg.Systems[0].MaxConcurrency)
	_, err = config.Parse(filepath.Join(t.TempDir(), "concord.yaml"), []byte(head+"systems: [{name: erp, connector: sql, max_concurrency: 0, settings: {table: t}}]\n"), testRegistry(), nil)
	require.ErrorContains(t, err, "system erp: max_concurrency: 0 is out of range; want at least 1")
}
