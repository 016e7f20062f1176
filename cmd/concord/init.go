package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/connector/all"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/initcfg"
)

// initOptions are concord init's flags.
type initOptions struct {
	path        string
	crm, erp    string
	crmSettings []string
	erpSettings []string
	owner       string
	currency    string
	force       bool
	// prompt asks for what the flags did not give, reading answers from in.
	prompt bool
}

func newInitCmd(g *globals) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented concord.yaml proposed from what the CRM and the ERP hold",
		Long: `init connects to the CRM and the ERP, reads what they hold (tables, columns, keys,
indexes and triggers of a sql database; the objects of connectors that can describe
themselves), and writes a commented config to --config (default concord.yaml):
tables recognised as accounts, contacts and products by their names, columns mapped
to fields by name and type, each sql table's id_kind chosen from its key, ownership
(customers and contacts owned by the CRM, products by the ERP) and one-way flows
(customers and contacts CRM -> ERP, products ERP -> CRM). Mappings it is unsure of
are left as comments with their candidates. Read the file before the first sync.

For sql systems it prints the DDL a DBA must run, without running it: an updated_at
column with an index and a trigger that maintains it, and a unique link column (the
other system's id), only for what is missing. It also writes it next to the config
(concord-ddl-SYSTEM.sql). Apply it, then concord validate, concord plan and
concord sync --once.

Systems are given as CONNECTOR[:ARGS]:
  --crm 'sql:mysql:crm@tcp(db.internal:3306)/crm'      sql:DRIVER:DSN (sqlite, postgres, mysql)
  --erp 'sql:postgres://erp@db.internal/erp'            a postgres:// URL needs no driver
  --erp sql:sqlite:erp.db                              a file, relative to the working directory
  --crm hubspot --crm-setting token=env:HUBSPOT_TOKEN  other connectors: settings one by one
--crm-setting and --erp-setting (KEY=VALUE, repeatable) add settings, such as
password=env:ERP_DB_PASSWORD; a password is never taken inline. On a terminal init
asks for what the flags did not give, with defaults shown. An existing config is never
overwritten unless --force is given. Exit codes: 0 written, 1 a system could not be
read, 2 invalid flags or an existing file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.path = g.config
			o.prompt = term.IsTerminal(int(os.Stdin.Fd()))
			log, err := g.logger()
			if err != nil {
				return err
			}
			return runInit(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout(), log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.crm, "crm", "", "the CRM: CONNECTOR[:ARGS], e.g. sql:mysql:user@tcp(host:3306)/crm")
	f.StringVar(&o.erp, "erp", "", "the ERP: CONNECTOR[:ARGS], e.g. sql:postgres://user@host/erp")
	f.StringArrayVar(&o.crmSettings, "crm-setting", nil, "a CRM connector setting KEY=VALUE (repeatable)")
	f.StringArrayVar(&o.erpSettings, "erp-setting", nil, "an ERP connector setting KEY=VALUE (repeatable)")
	f.StringVar(&o.owner, "owner", "", "e-mail address of the person who owns the integration (required)")
	f.StringVar(&o.currency, "currency", "USD", "ISO 4217 currency of money columns that hold no currency")
	f.BoolVar(&o.force, "force", false, "overwrite an existing config and DDL files")
	return cmd
}

// ddlPath is where init writes system's DDL, next to the config.
func ddlPath(cfgPath, system string) string {
	return filepath.Join(filepath.Dir(cfgPath), "concord-ddl-"+system+".sql")
}

// runInit is concord init. With o.prompt it asks for what the flags did not
// give on out, reading the answers from in.
func runInit(ctx context.Context, o *initOptions, in io.Reader, out io.Writer, log *slog.Logger) error {
	if !o.force {
		for _, p := range []string{o.path, ddlPath(o.path, "crm"), ddlPath(o.path, "erp")} {
			if _, err := os.Stat(p); err == nil {
				return usageErr(fmt.Errorf("%s exists; init never overwrites a file: give --force to replace it, or --config to write the config elsewhere", p))
			}
		}
	}
	if o.prompt {
		r := bufio.NewReader(in)
		ask := func(dst *string, question, def string) error {
			if *dst != "" {
				return nil
			}
			if def != "" {
				fmt.Fprintf(out, "%s [%s]: ", question, def)
			} else {
				fmt.Fprintf(out, "%s: ", question)
			}
			line, err := r.ReadString('\n')
			if err != nil && !(errors.Is(err, io.EOF) && line != "") {
				return usageErr(fmt.Errorf("read answer to %q: %w", question, err))
			}
			*dst = strings.TrimSpace(line)
			if *dst == "" {
				*dst = def
			}
			return nil
		}
		for _, q := range []struct {
			dst       *string
			text, def string
		}{
			{&o.crm, "CRM (sql:DRIVER:DSN, hubspot, tryton, odoo)", ""},
			{&o.erp, "ERP (sql:DRIVER:DSN, hubspot, tryton, odoo)", ""},
			{&o.owner, "Owner's e-mail address", ""},
		} {
			if err := ask(q.dst, q.text, q.def); err != nil {
				return err
			}
		}
		cur := ""
		if err := ask(&cur, "Currency of money columns without one", o.currency); err != nil {
			return err
		}
		o.currency = strings.ToUpper(cur)
	}
	var errs []error
	if o.crm == "" {
		errs = append(errs, errors.New("--crm is required (e.g. --crm 'sql:mysql:user@tcp(host:3306)/crm')"))
	}
	if o.erp == "" {
		errs = append(errs, errors.New("--erp is required (e.g. --erp 'sql:postgres://user@host/erp')"))
	}
	if o.owner == "" || !strings.Contains(o.owner, "@") {
		errs = append(errs, errors.New("--owner needs the e-mail address of the person who owns the integration"))
	}
	if len(o.currency) != 3 {
		errs = append(errs, fmt.Errorf("--currency %q is not an ISO 4217 code", o.currency))
	}
	crm, err := parseSystemSpec("crm", o.crm, o.crmSettings, o.path)
	errs = append(errs, err)
	erp, err := parseSystemSpec("erp", o.erp, o.erpSettings, o.path)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return usageErr(err)
	}
	reg := all.Registry(all.Deps{})
	for _, s := range []*initcfg.System{&crm, &erp} {
		if err := inspectSystem(ctx, reg, s, filepath.Dir(o.path), strings.ToUpper(o.currency), log); err != nil {
			return err
		}
	}
	p := initcfg.Propose(crm, erp, initcfg.Options{Owner: o.owner, Currency: strings.ToUpper(o.currency)})
	ddl := map[string]string{}
	for _, s := range p.Systems {
		if text := initcfg.DDL(p, s.Name); text != "" {
			ddl[s.Name] = text
		}
	}
	cfg := initcfg.Render(p, func(system string) string {
		if ddl[system] == "" {
			return ""
		}
		return filepath.Base(ddlPath(o.path, system))
	})
	if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	if err := os.WriteFile(o.path, cfg, 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	fmt.Fprintf(out, "wrote %s: %d flows (", o.path, len(p.Flows))
	for i, f := range p.Flows {
		if i > 0 {
			fmt.Fprint(out, ", ")
		}
		fmt.Fprintf(out, "%s %s -> %s: %d fields", f.Name, f.Source, f.Target, len(f.Fields))
	}
	fmt.Fprintln(out, ")")
	for _, s := range p.Systems {
		text := ddl[s.Name]
		if text == "" {
			continue
		}
		path := ddlPath(o.path, s.Name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return fmt.Errorf("write DDL of %s: %w", s.Name, err)
		}
		fmt.Fprintf(out, "\n-- %s (%s, %s) needs this DDL before the first sync; init did not run it. Also in %s:\n\n%s",
			s.Name, s.Connector, s.Driver, path, text)
	}
	fmt.Fprintf(out, "\nNext: read %[1]s, have the DDL above applied, then\n  concord validate --config %[1]s\n  concord plan --config %[1]s\n  concord sync --once --config %[1]s\n", o.path)
	return nil
}

// parseSystemSpec turns --crm/--erp and their settings into a system.
func parseSystemSpec(name, spec string, settings []string, cfgPath string) (initcfg.System, error) {
	role := initcfg.CRM
	if name == "erp" {
		role = initcfg.ERP
	}
	s := initcfg.System{Name: name, Role: role}
	if spec == "" {
		return s, nil
	}
	conn, args, _ := strings.Cut(spec, ":")
	s.Connector = conn
	if conn == initcfg.ConnSQL {
		driver, dsn, ok := strings.Cut(args, ":")
		if strings.HasPrefix(args, "postgres://") || strings.HasPrefix(args, "postgresql://") {
			driver, dsn, ok = sqlconn.DriverPostgres, args, true
		}
		switch {
		case !ok || dsn == "":
			return s, fmt.Errorf("--%s %q: want sql:DRIVER:DSN (sqlite, postgres or mysql)", name, spec)
		case driver != sqlconn.DriverSQLite && driver != sqlconn.DriverPostgres && driver != sqlconn.DriverMySQL:
			return s, fmt.Errorf("--%s %q: unknown driver %q (want sqlite, postgres or mysql)", name, spec, driver)
		case inlinePassword(driver, dsn):
			return s, fmt.Errorf("--%s: the DSN holds a password; leave it out and give --%s-setting password=env:NAME", name, name)
		}
		if driver == sqlconn.DriverSQLite && !filepath.IsAbs(dsn) && !strings.HasPrefix(dsn, "file:") {
			// The config resolves a relative file against its own directory.
			if abs, err := filepath.Abs(dsn); err == nil {
				if dir, err := filepath.Abs(filepath.Dir(cfgPath)); err == nil {
					if rel, err := filepath.Rel(dir, abs); err == nil {
						dsn = rel
					}
				}
			}
		}
		s.Driver = driver
		s.Settings = append(s.Settings, initcfg.Setting{Key: sqlconn.SettingDriver, Value: driver}, initcfg.Setting{Key: sqlconn.SettingDSN, Value: dsn})
	} else if args != "" {
		return s, fmt.Errorf("--%s %q: only sql takes arguments; give %s's settings with --%s-setting KEY=VALUE", name, spec, conn, name)
	}
	for _, kv := range settings {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return s, fmt.Errorf("--%s-setting %q: want KEY=VALUE", name, kv)
		}
		s.Settings = append(s.Settings, initcfg.Setting{Key: k, Value: v})
	}
	return s, nil
}

// inlinePassword reports whether a postgres or mysql DSN carries a password.
func inlinePassword(driver, dsn string) bool {
	switch driver {
	case sqlconn.DriverPostgres:
		if u, err := url.Parse(dsn); err == nil && u.User != nil {
			_, set := u.User.Password()
			return set
		}
		return strings.Contains(dsn, "password=")
	case sqlconn.DriverMySQL:
		c, err := mysql.ParseDSN(dsn)
		return err == nil && c.Passwd != ""
	}
	return false
}

// inspectSystem opens s with its settings (secret references resolved) and
// reads its catalog. A connector that cannot describe itself is noted in s; a
// system that cannot be opened or read is an error (exit 1).
func inspectSystem(ctx context.Context, reg *connector.Registry, s *initcfg.System, dir, currency string, log *slog.Logger) error {
	spec, ok := reg.Lookup(s.Connector)
	if !ok {
		return usageErr(fmt.Errorf("--%s: unknown connector %q (known: %s)", s.Name, s.Connector, strings.Join(reg.Names(), ", ")))
	}
	settings := map[string]any{}
	for _, st := range s.Settings {
		v, err := resolveRef(st.Key, st.Value, dir)
		if err != nil {
			return usageErr(fmt.Errorf("--%s-setting %s: %w", s.Name, st.Key, err))
		}
		settings[st.Key] = v
	}
	// A connector that needs the currency of its money values (HubSpot) gets
	// --currency, as the written config will.
	for _, f := range spec.Fields {
		if _, set := settings[f.Name]; f.Name == "currency" && f.Required && !set {
			settings[f.Name] = currency
		}
	}
	c, err := spec.Open(ctx, connector.OpenParams{System: s.Name, Settings: settings, Logger: log.With("system", s.Name), Dir: dir, ReadOnly: true})
	if err != nil && s.Connector != initcfg.ConnSQL {
		// A connector that cannot open without a mapping yet: its settings
		// are written, its entities are mapped by hand.
		log.WarnContext(ctx, "system not inspected; map its entities by hand", "system", s.Name, "err", err)
		s.NotInspected = "it did not open without a mapping: " + err.Error()
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s (%s): %w", s.Name, s.Connector, err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	in, ok := c.(connector.Inspector)
	if !ok {
		s.NotInspected = "the " + s.Connector + " connector cannot describe its system yet"
		return nil
	}
	s.Catalog, err = in.Inspect(ctx)
	if err != nil {
		return fmt.Errorf("inspect %s (%s): %w", s.Name, s.Connector, err)
	}
	if s.Connector == initcfg.ConnSQL {
		s.AutoIncrement = sqlconn.AutoIncrement
	}
	return nil
}

// resolveRef resolves an env:NAME or file:PATH reference for opening a
// system; the config keeps the reference.
func resolveRef(key, v, dir string) (any, error) {
	secret := strings.Contains(key, "password") || strings.Contains(key, "secret") || strings.Contains(key, "token")
	switch {
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val := os.Getenv(name)
		if val == "" {
			return nil, fmt.Errorf("environment variable %s is not set", name)
		}
		return val, nil
	case secret && strings.HasPrefix(v, "file:"):
		p := strings.TrimPrefix(v, "file:")
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read secret file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case v == "true" || v == "false":
		return v == "true", nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n, nil
	}
	return v, nil
}
