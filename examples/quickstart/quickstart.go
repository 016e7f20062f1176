// Package quickstart builds the quickstart's two SQLite databases: a CRM-shaped
// one whose companies are Northwind's suppliers (won as customers), and an ERP
// loaded from the Northwind sample database (customers and products), plus the
// config that syncs customers CRM -> ERP and products ERP -> CRM.
package quickstart

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/concord-sync/concord/internal/northwind"
)

// Config is the quickstart's concord.yaml.
//
//go:embed concord.yaml
var Config []byte

// timeLayout is how the sql connector stores instants in SQLite.
const timeLayout = "2006-01-02 15:04:05.000000"

// Setup writes concord.yaml, crm.db and erp.db into dir. Existing files are kept
// unless reset is true, so a second run syncs only what changed.
func Setup(ctx context.Context, dir string, reset bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("quickstart: %w", err)
	}
	if reset {
		for _, f := range []string{"concord.db", "crm.db", "erp.db"} {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(filepath.Join(dir, f+suffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("quickstart: reset: %w", err)
				}
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "concord.yaml"), Config, 0o644); err != nil {
		return fmt.Errorf("quickstart: write config: %w", err)
	}
	nw, err := northwind.Load()
	if err != nil {
		return fmt.Errorf("quickstart: load northwind: %w", err)
	}
	if err := build(ctx, filepath.Join(dir, "erp.db"), erpSchema+changeDetection("customers", "customer_id")+changeDetection("products", "product_id"), func(tx *sql.Tx) error { return fillERP(ctx, tx, nw) }); err != nil {
		return err
	}
	return build(ctx, filepath.Join(dir, "crm.db"), crmSchema+changeDetection("companies", "id")+changeDetection("products", "id"), func(tx *sql.Tx) error { return fillCRM(ctx, tx, nw) })
}

const erpSchema = `
CREATE TABLE customers (
  customer_id   TEXT PRIMARY KEY,
  company_name  TEXT NOT NULL,
  contact_name  TEXT,
  contact_title TEXT,
  address       TEXT,
  city          TEXT,
  region        TEXT,
  postal_code   TEXT,
  country       TEXT,
  phone         TEXT,
  fax           TEXT,
  crm_id        TEXT UNIQUE,
  updated_at    TEXT NOT NULL
);
CREATE TABLE products (
  product_id        INTEGER PRIMARY KEY,
  sku               TEXT NOT NULL UNIQUE,
  product_name      TEXT NOT NULL,
  quantity_per_unit TEXT,
  unit_price        TEXT,
  units_in_stock    INTEGER,
  discontinued      INTEGER NOT NULL DEFAULT 0,
  active            INTEGER NOT NULL DEFAULT 1,
  crm_id            TEXT UNIQUE,
  updated_at        TEXT NOT NULL
);`

const crmSchema = `
CREATE TABLE companies (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT,
  contact_name    TEXT,
  contact_title   TEXT,
  phone           TEXT,
  city            TEXT,
  country         TEXT,
  erp_customer_id TEXT UNIQUE,
  updated_at      TEXT NOT NULL
);
CREATE TABLE products (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  sku            TEXT,
  name           TEXT,
  price          TEXT,
  stock          INTEGER,
  active         INTEGER,
  erp_product_id TEXT UNIQUE,
  updated_at     TEXT NOT NULL
);`

// changeDetection is what Concord needs of a table it reads changes from (see
// concord doctor): an index on updated_at, and a trigger that sets updated_at
// when a program other than Concord changes a row without setting it (so an
// edit made with the sqlite3 shell moves too).
func changeDetection(table, id string) string {
	return fmt.Sprintf(`
CREATE INDEX %[1]s_updated_at_idx ON %[1]s (updated_at, %[2]s);
CREATE TRIGGER %[1]s_updated_at_touch AFTER UPDATE ON %[1]s FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at BEGIN
  UPDATE %[1]s SET updated_at = strftime('%%Y-%%m-%%d %%H:%%M:%%f000', 'now') WHERE %[2]s = NEW.%[2]s;
END;`, table, id)
}

// build creates the database at path with schema and fill, unless it exists.
func build(ctx context.Context, path, schema string, fill func(*sql.Tx) error) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	db, err := sql.Open("sqlite", tmp)
	if err != nil {
		return fmt.Errorf("quickstart: open %s: %w", tmp, err)
	}
	err = func() error {
		defer db.Close()
		if _, err := db.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if err := fill(tx); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("quickstart: build %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func stamp(i int) string {
	return time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(timeLayout)
}

func fillERP(ctx context.Context, tx *sql.Tx, nw *northwind.Data) error {
	for i, c := range nw.Customers {
		_, err := tx.ExecContext(ctx, `INSERT INTO customers (customer_id, company_name, contact_name, contact_title, address, city, region, postal_code, country, phone, fax, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.CompanyName, c.ContactName, c.ContactTitle, c.Address, c.City, c.Region, c.PostalCode, c.Country, c.Phone, c.Fax, stamp(i))
		if err != nil {
			return fmt.Errorf("customer %s: %w", c.ID, err)
		}
	}
	for i, p := range nw.Products {
		active := 1
		if p.Discontinued {
			active = 0
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO products (product_id, sku, product_name, quantity_per_unit, unit_price, units_in_stock, discontinued, active, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ID, fmt.Sprintf("NW-%03d", p.ID), p.Name, p.QuantityPerUnit, p.UnitPrice.String(), p.UnitsInStock, 1-active, active, stamp(i))
		if err != nil {
			return fmt.Errorf("product %d: %w", p.ID, err)
		}
	}
	return nil
}

// fillCRM makes Northwind's suppliers the CRM's won customers, and adds one lead
// without a name, which the customers flow quarantines (name is required).
func fillCRM(ctx context.Context, tx *sql.Tx, nw *northwind.Data) error {
	for i, s := range nw.Suppliers {
		_, err := tx.ExecContext(ctx, `INSERT INTO companies (name, contact_name, contact_title, phone, city, country, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			s.CompanyName, s.ContactName, s.ContactTitle, s.Phone, s.City, s.Country, stamp(i))
		if err != nil {
			return fmt.Errorf("company %s: %w", s.CompanyName, err)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO companies (name, contact_name, phone, city, country, updated_at) VALUES ('', 'Unknown caller', '(555) 0100', 'Lyon', 'France', ?)`, stamp(len(nw.Suppliers)))
	return err
}
