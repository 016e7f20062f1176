package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/concord-sync/concord/internal/sandbox/salesforce"
)

func newSandboxSalesforceCmd(g *globals) *cobra.Command {
	cfg := salesforce.DefaultConfig()
	var addr, seed, jwtKey string
	var deals int
	var seedN uint64
	cmd := &cobra.Command{
		Use:   "salesforce",
		Short: "Serve a Salesforce-compatible CRM API (OAuth, sObjects, SOQL, Collections, upsert by External ID, request limits)",
		Long: `sandbox salesforce serves Salesforce's REST API paths and payloads on a local
address: the OAuth 2.0 token endpoint (client credentials and JWT bearer),
sObject CRUD and upsert by External ID for Account, Contact, Opportunity,
OpportunityLineItem, Product2, Pricebook2 and PricebookEntry, SOQL query,
queryAll and queryMore, sObject Collections (200 records per call, per-record
results), getUpdated and getDeleted, describe, custom fields through the
Tooling API, and the org's API request limit (Sforce-Limit-Info,
REQUEST_LIMIT_EXCEEDED). State is kept in memory. --seed northwind loads
Northwind's customers as Accounts and Contacts, its products with their
standard prices, and generated Opportunities with line items across the
stages. See docs/sandbox.md for what it covers and what it does not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Logger = log
			if jwtKey != "" {
				key, err := readPublicKey(jwtKey)
				if err != nil {
					return usageErr(fmt.Errorf("--jwt-public-key: %w", err))
				}
				cfg.JWTKey = key
			}
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			srv := salesforce.New(cfg)
			defer srv.Close()
			if err := seedNorthwind(seed, deals, seedN, srv.Seed); err != nil {
				return err
			}
			limit := fmt.Sprintf("%d requests per %s", cfg.DailyLimit, cfg.LimitWindow)
			if cfg.DailyLimit < 0 {
				limit = "no request limit"
			}
			clients := "any client id and secret"
			if cfg.ClientID != "" {
				clients = "client id and secret as given"
			}
			return serveSandbox(cmd, addr, srv.Handler(), func(at net.Addr) string {
				return fmt.Sprintf("Salesforce-compatible sandbox on http://%s (login_url; %s; %s)", at, clients, limit)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8090", "listen address")
	f.StringVar(&cfg.ClientID, "client-id", "", "connected app consumer key clients must send (empty: any)")
	f.StringVar(&cfg.ClientSecret, "client-secret", "", "connected app consumer secret (client credentials flow)")
	f.StringVar(&jwtKey, "jwt-public-key", "", "PEM public key or certificate that verifies JWT bearer assertions (empty: the JWT flow is refused)")
	f.IntVar(&cfg.DailyLimit, "daily-limit", cfg.DailyLimit, "API requests per --limit-window (negative: no limit)")
	f.DurationVar(&cfg.LimitWindow, "limit-window", cfg.LimitWindow, "rolling window of --daily-limit")
	f.StringVar(&seed, "seed", "", "seed data: northwind")
	f.IntVar(&deals, "deals", 60, "generated opportunities when seeding")
	f.Uint64Var(&seedN, "random-seed", 1, "random seed for generated opportunities")
	return cmd
}

// readPublicKey reads an RSA public key or certificate from a PEM file.
func readPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM file")
	}
	if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
		if k, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return k, nil
		}
		return nil, errors.New("the certificate's key is not RSA")
	}
	if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, errors.New("not an RSA public key")
	}
	if k, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("not an RSA public key or certificate")
}
