package demo

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/sandbox/hubspot"
)

// ERPSide is what the simulator does in the ERP: issue the invoices of new
// orders, and record customers' payments.
type ERPSide interface {
	Invoice(ctx context.Context) (int, error)
	Pay(ctx context.Context, n int) (int, error)
}

// Simulator plays the users of both systems: sales reps winning deals in the CRM,
// and the ERP's own invoicing and the customers' payments.
type Simulator struct {
	CRM *hubspot.Server
	// Deals, when set, wins the deals instead of CRM (another CRM's sandbox).
	Deals interface {
		WinDeals(n int) ([]string, error)
	}
	ERP ERPSide
	Rnd *rand.Rand
}

// SQLERP is the ERP side of the demo's SQLite ERP, which has no invoicing of its
// own: it plays the ERP's invoicing and ledger.
type SQLERP struct {
	DB  *sql.DB
	Rnd *rand.Rand
	Now func() time.Time
}

var (
	_ ERPSide = (*SQLERP)(nil)
	_ ERPSide = (*TrytonERP)(nil)
)

// WinDeals moves up to n open deals to the won stage, as a sales rep would.
func (s *Simulator) WinDeals(n int) ([]string, error) {
	if s.Deals != nil {
		return s.Deals.WinDeals(n)
	}
	open := openDeals(s.CRM)
	s.Rnd.Shuffle(len(open), func(i, j int) { open[i], open[j] = open[j], open[i] })
	var won []string
	for _, id := range open[:min(n, len(open))] {
		if _, err := s.CRM.Update(hubspot.Deals, id, map[string]string{"dealstage": "closedwon"}); err != nil {
			return won, fmt.Errorf("demo: win deal %s: %w", id, err)
		}
		won = append(won, id)
	}
	return won, nil
}

// Invoice issues a posted invoice for every sale order that has none, as the
// ERP does once a sale is confirmed: the total is the sum of the line amounts,
// the invoice date up to 40 days back (so that some are already overdue), due
// 30 days later.
func (s *SQLERP) Invoice(ctx context.Context) (int, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT o.id, o.customer_id FROM sale_orders o LEFT JOIN invoices i ON i.order_id = o.id WHERE i.id IS NULL ORDER BY o.id`)
	if err != nil {
		return 0, fmt.Errorf("demo: orders to invoice: %w", err)
	}
	type order struct {
		id       int64
		customer string
	}
	var orders []order
	for rows.Next() {
		var o order
		if err := rows.Scan(&o.id, &o.customer); err != nil {
			rows.Close()
			return 0, err
		}
		orders = append(orders, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	now := s.Now().UTC()
	for _, o := range orders {
		total, err := s.orderTotal(ctx, o.id)
		if err != nil {
			return 0, err
		}
		issued := now.AddDate(0, 0, -s.Rnd.IntN(41))
		due := issued.AddDate(0, 0, 30)
		overdue := 0
		if due.Before(now) {
			overdue = 1
		}
		_, err = s.DB.ExecContext(ctx, `INSERT INTO invoices (number, order_id, customer_id, state, total, amount_due, invoice_date, due_date, overdue, updated_at)
			VALUES (?, ?, ?, 'posted', ?, ?, ?, ?, ?, ?)`,
			fmt.Sprintf("INV/%s/%04d", now.Format("2006"), o.id), o.id, o.customer, total.String(), total.String(),
			issued.Format(time.DateOnly), due.Format(time.DateOnly), overdue, now.Format(TimeLayout))
		if err != nil {
			return 0, fmt.Errorf("demo: invoice order %d: %w", o.id, err)
		}
	}
	return len(orders), s.refreshBalances(ctx)
}

// refreshBalances recomputes each customer's open balance, the sum of what its
// posted invoices still owe, where it changed, as the ERP's ledger would.
func (s *SQLERP) refreshBalances(ctx context.Context) error {
	rows, err := s.DB.QueryContext(ctx, `SELECT c.customer_id, c.open_balance, coalesce(i.amount_due, '') FROM customers c LEFT JOIN invoices i ON i.customer_id = c.customer_id AND i.state = 'posted' ORDER BY c.customer_id`)
	if err != nil {
		return fmt.Errorf("demo: balances: %w", err)
	}
	current, owed := map[string]string{}, map[string]decimal.Decimal{}
	for rows.Next() {
		var id, bal, due string
		if err := rows.Scan(&id, &bal, &due); err != nil {
			rows.Close()
			return err
		}
		current[id] = bal
		if due != "" {
			owed[id] = owed[id].Add(decimal.RequireFromString(due))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	stamp := s.Now().UTC().Format(TimeLayout)
	for id, bal := range current {
		if old, err := decimal.NewFromString(bal); err == nil && old.Equal(owed[id]) {
			continue
		}
		if _, err := s.DB.ExecContext(ctx, `UPDATE customers SET open_balance = ?, updated_at = ? WHERE customer_id = ?`, owed[id].String(), stamp, id); err != nil {
			return fmt.Errorf("demo: balance of %s: %w", id, err)
		}
	}
	return nil
}

// orderTotal sums an order's line amounts; a line without an amount counts
// quantity x unit price x (1 - discount).
func (s *SQLERP) orderTotal(ctx context.Context, orderID int64) (decimal.Decimal, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT quantity, unit_price, coalesce(discount, ''), coalesce(amount, '') FROM sale_order_lines WHERE order_id = ?`, orderID)
	if err != nil {
		return decimal.Zero, fmt.Errorf("demo: lines of order %d: %w", orderID, err)
	}
	defer rows.Close()
	total := decimal.Zero
	for rows.Next() {
		var q, p, d, a string
		if err := rows.Scan(&q, &p, &d, &a); err != nil {
			return decimal.Zero, err
		}
		if a != "" {
			amt, err := decimal.NewFromString(a)
			if err != nil {
				return decimal.Zero, fmt.Errorf("demo: order %d: amount %q: %w", orderID, a, err)
			}
			total = total.Add(amt)
			continue
		}
		qty, err1 := decimal.NewFromString(q)
		price, err2 := decimal.NewFromString(p)
		disc := decimal.Zero
		if d != "" {
			disc, _ = decimal.NewFromString(d)
		}
		if err1 != nil || err2 != nil {
			return decimal.Zero, fmt.Errorf("demo: order %d: bad line %q x %q", orderID, q, p)
		}
		total = total.Add(qty.Mul(price).Mul(decimal.NewFromInt(1).Sub(disc)))
	}
	return total, rows.Err()
}

// Pay records full payment of up to n posted invoices, as a customer's
// bank transfer booked in the ERP would.
func (s *SQLERP) Pay(ctx context.Context, n int) (int, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, amount_due FROM invoices WHERE state = 'posted' ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("demo: invoices to pay: %w", err)
	}
	type inv struct {
		id  int64
		due string
	}
	var open []inv
	for rows.Next() {
		var i inv
		if err := rows.Scan(&i.id, &i.due); err != nil {
			rows.Close()
			return 0, err
		}
		open = append(open, i)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("demo: invoices to pay: %w", err)
	}
	s.Rnd.Shuffle(len(open), func(i, j int) { open[i], open[j] = open[j], open[i] })
	now := s.Now().UTC()
	paid := 0
	for _, i := range open[:min(n, len(open))] {
		tx, err := s.DB.BeginTx(ctx, nil)
		if err != nil {
			return paid, err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO payments (invoice_id, amount, paid_on) VALUES (?, ?, ?)`, i.id, i.due, now.Format(time.DateOnly))
		if err == nil {
			_, err = tx.ExecContext(ctx, `UPDATE invoices SET state = 'paid', amount_due = '0', paid_date = ?, overdue = 0, updated_at = ? WHERE id = ?`,
				now.Format(time.DateOnly), now.Format(TimeLayout), i.id)
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			_ = tx.Rollback()
			return paid, fmt.Errorf("demo: pay invoice %d: %w", i.id, err)
		}
		paid++
	}
	return paid, s.refreshBalances(ctx)
}
