package demo

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/shopspring/decimal"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/concord-sync/concord/internal/northwind"
)

// TimeLayout is how the sql connector stores instants in SQLite.
const TimeLayout = "2006-01-02 15:04:05.000000"

// erpSchema is the demo ERP: Northwind's customers and products, and the tables
// an ERP keeps for order-to-cash.
const erpSchema = `
CREATE TABLE customers (
  customer_id   TEXT PRIMARY KEY,
  company_name  TEXT NOT NULL,
  contact_name  TEXT,
  city          TEXT,
  country       TEXT,
  phone         TEXT,
  credit_limit  TEXT,
  open_balance  TEXT NOT NULL DEFAULT '0',
  crm_id        TEXT UNIQUE,
  updated_at    TEXT NOT NULL
);
CREATE TABLE products (
  product_id     INTEGER PRIMARY KEY,
  sku            TEXT NOT NULL UNIQUE,
  product_name   TEXT NOT NULL,
  unit_price     TEXT NOT NULL,
  units_in_stock INTEGER NOT NULL DEFAULT 0,
  active         INTEGER NOT NULL DEFAULT 1,
  crm_id         TEXT UNIQUE,
  updated_at     TEXT NOT NULL
);
CREATE TABLE sale_orders (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  customer_id TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'confirmed',
  crm_deal_id TEXT UNIQUE,
  updated_at  TEXT NOT NULL
);
CREATE TABLE sale_order_lines (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id    INTEGER NOT NULL REFERENCES sale_orders(id),
  line_no     INTEGER,
  product_id  INTEGER NOT NULL,
  description TEXT,
  quantity    TEXT NOT NULL,
  unit_price  TEXT NOT NULL,
  discount    TEXT,
  amount      TEXT
);
CREATE TABLE invoices (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  number       TEXT NOT NULL UNIQUE,
  order_id     INTEGER NOT NULL REFERENCES sale_orders(id),
  customer_id  TEXT NOT NULL,
  state        TEXT NOT NULL,
  total        TEXT NOT NULL,
  amount_due   TEXT NOT NULL,
  invoice_date TEXT NOT NULL,
  due_date     TEXT NOT NULL,
  paid_date    TEXT,
  overdue      INTEGER NOT NULL DEFAULT 0,
  crm_id       TEXT UNIQUE,
  updated_at   TEXT NOT NULL
);
CREATE TABLE payments (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  invoice_id INTEGER NOT NULL REFERENCES invoices(id),
  amount     TEXT NOT NULL,
  paid_on    TEXT NOT NULL
);`

// CreditLimit is the demo credit limit finance granted to Northwind customer i.
func CreditLimit(i int) decimal.Decimal { return decimal.NewFromInt(int64(5+i%10) * 5000) }

// BuildERP creates the ERP database at path from Northwind. It fails if the file
// exists.
func BuildERP(ctx context.Context, path string, nw *northwind.Data, now time.Time) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("demo: %s exists", path)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return fmt.Errorf("demo: open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, erpSchema); err != nil {
		return fmt.Errorf("demo: erp schema: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stamp := now.UTC().Add(-time.Hour).Format(TimeLayout)
	for i, c := range nw.Customers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO customers (customer_id, company_name, contact_name, city, country, phone, credit_limit, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.CompanyName, c.ContactName, c.City, c.Country, c.Phone, CreditLimit(i).String(), stamp); err != nil {
			return fmt.Errorf("demo: customer %s: %w", c.ID, err)
		}
	}
	for _, p := range nw.Products {
		active := 1
		if p.Discontinued {
			active = 0
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO products (product_id, sku, product_name, unit_price, units_in_stock, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			p.ID, fmt.Sprintf("NW-%03d", p.ID), p.Name, p.UnitPrice.String(), p.UnitsInStock, active, stamp); err != nil {
			return fmt.Errorf("demo: product %d: %w", p.ID, err)
		}
	}
	return tx.Commit()
}
