package main

import (
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/sandbox/pipedrive"
)

func newSandboxPipedriveCmd(g *globals) *cobra.Command {
	cfg := pipedrive.DefaultConfig()
	var addr, seed, hookURL, hookUser, hookPassword string
	var deals int
	var seedN uint64
	cmd := &cobra.Command{
		Use:   "pipedrive",
		Short: "Serve a Pipedrive-compatible CRM API (v2 organizations, persons, deals, products, deal products, custom fields, webhooks, rate limits)",
		Long: `sandbox pipedrive serves Pipedrive's REST API v2 paths and payloads on a local
address: organizations, persons, deals (status open, won, lost, won_time) and
products, the products of deals, lists with cursor pagination and update_time
filters, search, custom fields by their hash keys (v1 Fields API), API token
(x-api-token or api_token) and OAuth bearer authentication, the per-token burst
limit per 2 s with its x-ratelimit-* headers and 429, and v2 webhooks with HTTP
basic auth (POST /api/v1/webhooks, or --webhook-url). State is kept in memory.
--seed northwind loads Northwind's customers as organizations and persons, its
products, and generated deals with products. See docs/sandbox.md for what it
covers and what it does not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			srv := pipedrive.New(cfg)
			defer srv.Close()
			if err := seedNorthwind(seed, deals, seedN, srv.Seed); err != nil {
				return err
			}
			if hookURL != "" {
				srv.AddWebhook(hookURL, hookUser, hookPassword)
			}
			return serveSandbox(cmd, addr, srv.Handler(), func(at net.Addr) string {
				return fmt.Sprintf("Pipedrive-compatible sandbox on http://%s (API token: %s; %d requests per %s)", at, tokenHint(cfg.Token), cfg.RateLimit, cfg.Window)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8091", "listen address")
	f.StringVar(&cfg.Token, "token", "", "API token clients must send (empty: any token)")
	f.StringVar(&cfg.OAuthToken, "oauth-token", "", "OAuth access token clients may send as a bearer token (empty: any)")
	f.IntVar(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per window per API token (negative: no limit)")
	f.IntVar(&cfg.OAuthRateLimit, "oauth-rate-limit", cfg.OAuthRateLimit, "requests per window per OAuth token (negative: no limit)")
	f.DurationVar(&cfg.Window, "rate-window", cfg.Window, "rate-limit window")
	f.StringVar(&seed, "seed", "", "seed data: northwind")
	f.IntVar(&deals, "deals", 60, "generated deals when seeding")
	f.Uint64Var(&seedN, "random-seed", 1, "random seed for generated deals")
	f.StringVar(&hookURL, "webhook-url", "", "deliver v2 webhooks of every event to this URL")
	f.StringVar(&hookUser, "webhook-user", "", "HTTP basic auth user of the webhooks")
	f.StringVar(&hookPassword, "webhook-password", "", "HTTP basic auth password of the webhooks")
	return cmd
}
