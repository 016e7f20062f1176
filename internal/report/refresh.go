package report

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/concord-sync/concord/internal/connector"
	"github.com/concord-sync/concord/internal/model"
)

// Reader is what a refresh needs from a system: the entities it maps and the
// paged read of changes since a cursor (every connector's bulk path).
type Reader interface {
	Entities() []connector.EntityInfo
	Read(ctx context.Context, req connector.ReadRequest) (connector.ReadResult, error)
}

// System is one side of the reporting database: its name in the config and
// its reader.
type System struct {
	Name   string
	Reader Reader
}

// Refresher brings the reporting database up to date from the CRM and the
// ERP.
type Refresher struct {
	DB  *DB
	CRM System
	ERP System
	// PageSize is the Limit of each Read; 0 means 500.
	PageSize int
	Log      *slog.Logger
	// Now is the clock, for the refresh times; time.Now when nil.
	Now func() time.Time
}

// EntityStats is what one refresh read from one system's entity.
type EntityStats struct {
	System string `json:"system"`
	Entity string `json:"entity"`
	// Read counts the records read (changed since the last refresh, or all on
	// the first or a full refresh); Pages the reads.
	Read  int `json:"read"`
	Pages int `json:"pages"`
}

// Stats is one refresh.
type Stats struct {
	Entities []EntityStats `json:"entities"`
	Took     time.Duration `json:"took"`
}

// Total is the number of records read.
func (s Stats) Total() int {
	n := 0
	for _, e := range s.Entities {
		n += e.Read
	}
	return n
}

// Which entities each side contributes, in refresh order.
var (
	crmEntities = []model.Entity{model.Account, model.Deal}
	erpEntities = []model.Entity{model.Account, model.Product, model.Order, model.Invoice, model.Payment}
)

// Refresh reads, for every entity the reporting database takes from each
// system and the system maps, the changes since that entity's cursor, page by
// page; each page is upserted and the cursor saved in one transaction, so an
// interrupted refresh goes on where it stopped. Nothing changed means one
// empty read per entity. With full, the cursors are ignored and each entity's
// rows are replaced in one transaction by what the system holds now (this is
// how records deleted in a system leave the reporting database). When the
// ERP's reader is a connector.RateReader, its exchange rates then replace
// dim_rate in full (one read, one transaction; rates tables are small).
func (r *Refresher) Refresh(ctx context.Context, full bool) (Stats, error) {
	start := r.now()
	var st Stats
	for _, side := range []struct {
		sys      System
		erp      bool
		entities []model.Entity
	}{{r.CRM, false, crmEntities}, {r.ERP, true, erpEntities}} {
		if side.sys.Reader == nil {
			continue
		}
		mapped := map[model.Entity]bool{}
		for _, e := range side.sys.Reader.Entities() {
			mapped[e.Entity] = true
		}
		for _, ent := range side.entities {
			if !mapped[ent] {
				continue
			}
			es, err := r.entity(ctx, side.sys, side.erp, ent, full, mapped[model.Payment])
			st.Entities = append(st.Entities, es)
			if err != nil {
				return st, err
			}
		}
	}
	if rr, ok := r.ERP.Reader.(connector.RateReader); ok {
		es, err := r.rates(ctx, rr)
		if es.Read > 0 || err != nil {
			// an ERP without rates (most) adds no row to the stats
			st.Entities = append(st.Entities, es)
		}
		if err != nil {
			return st, err
		}
	}
	st.Took = r.now().Sub(start)
	return st, nil
}

func (r *Refresher) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// entity refreshes one entity of one system.
func (r *Refresher) entity(ctx context.Context, sys System, erp bool, ent model.Entity, full, payments bool) (EntityStats, error) {
	es := EntityStats{System: sys.Name, Entity: string(ent)}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := r.DB
	var cursor string
	if !full {
		err := d.db.QueryRowContext(ctx, `SELECT cursor FROM report_cursor WHERE system = $1 AND entity = $2`, sys.Name, string(ent)).Scan(&cursor)
		if err != nil && err != sql.ErrNoRows {
			return es, fmt.Errorf("report: cursor of %s %s: %w", sys.Name, ent, err)
		}
	}
	limit := r.PageSize
	if limit <= 0 {
		limit = 500
	}
	var tx *sql.Tx
	defer func() {
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	begin := func() error {
		if tx != nil {
			return nil
		}
		var err error
		tx, err = d.db.BeginTx(ctx, nil)
		return err
	}
	if full {
		if err := begin(); err != nil {
			return es, fmt.Errorf("report: refresh %s %s: %w", sys.Name, ent, err)
		}
		if err := clear(ctx, tx, erp, ent, payments); err != nil {
			return es, fmt.Errorf("report: refresh %s %s: %w", sys.Name, ent, err)
		}
	}
	for {
		res, err := sys.Reader.Read(ctx, connector.ReadRequest{Entity: ent, Cursor: cursor, Limit: limit})
		if err != nil {
			return es, fmt.Errorf("report: read %s %s: %w", sys.Name, ent, err)
		}
		es.Pages++
		es.Read += len(res.Records)
		log.DebugContext(ctx, "report page", "system", sys.Name, "entity", string(ent), "cursor", cursor, "records", len(res.Records), "next", res.Next, "done", res.Done)
		if err := begin(); err != nil {
			return es, fmt.Errorf("report: refresh %s %s: %w", sys.Name, ent, err)
		}
		w := &writer{tx: tx, ctx: ctx}
		for _, rec := range res.Records {
			if err := w.record(erp, rec, payments); err != nil {
				return es, fmt.Errorf("report: %s %s %s: %w", sys.Name, ent, rec.ID, err)
			}
		}
		next := res.Next
		if next == "" {
			next = cursor
		}
		if next != cursor || len(res.Records) > 0 || full {
			if _, err := tx.ExecContext(ctx, `INSERT INTO report_cursor (system, entity, cursor, records, refreshed) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (system, entity) DO UPDATE SET cursor = excluded.cursor, records = report_cursor.records + excluded.records, refreshed = excluded.refreshed`,
				sys.Name, string(ent), next, len(res.Records), r.now().UTC().Format(time.RFC3339)); err != nil {
				return es, fmt.Errorf("report: save cursor of %s %s: %w", sys.Name, ent, err)
			}
		}
		if !full || res.Done {
			if err := tx.Commit(); err != nil {
				return es, fmt.Errorf("report: refresh %s %s: %w", sys.Name, ent, err)
			}
			tx = nil
		}
		cursor = next
		if res.Done || len(res.Records) == 0 {
			break
		}
	}
	log.DebugContext(ctx, "report refreshed", "system", sys.Name, "entity", string(ent), "read", es.Read, "pages", es.Pages)
	return es, nil
}

// clear deletes the rows one entity of one side fills, for a full refresh.
func clear(ctx context.Context, tx *sql.Tx, erp bool, ent model.Entity, payments bool) error {
	var stmts []string
	switch {
	case !erp && ent == model.Account:
		stmts = []string{`DELETE FROM crm_account`, `DELETE FROM report_link WHERE entity = 'customer'`}
	case !erp && ent == model.Deal:
		stmts = []string{`DELETE FROM crm_deal`, `DELETE FROM report_link WHERE entity = 'deal'`}
	case erp && ent == model.Account:
		stmts = []string{`DELETE FROM erp_customer`}
	case erp && ent == model.Product:
		stmts = []string{`DELETE FROM erp_product`, `DELETE FROM report_link WHERE entity = 'product'`}
	case erp && ent == model.Order:
		stmts = []string{`DELETE FROM erp_order_line`, `DELETE FROM erp_order`}
	case erp && ent == model.Invoice:
		stmts = []string{`DELETE FROM erp_invoice`}
		if !payments {
			stmts = append(stmts, `DELETE FROM erp_payment WHERE derived = 1`)
		}
	case erp && ent == model.Payment:
		stmts = []string{`DELETE FROM erp_payment WHERE derived = 0`}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// writer upserts records into the source tables.
type writer struct {
	ctx context.Context //nolint:containedctx // lives for one page's upserts
	tx  *sql.Tx
}

func (w *writer) exec(q string, args ...any) error {
	_, err := w.tx.ExecContext(w.ctx, q, args...)
	return err
}

// link records a CRM/ERP pair of entity.
func (w *writer) link(entity, crmID, erpID string) error {
	if crmID == "" || erpID == "" {
		return nil
	}
	return w.exec(`INSERT INTO report_link (entity, crm_id, erp_id) VALUES ($1, $2, $3)
		ON CONFLICT (entity, crm_id) DO UPDATE SET erp_id = excluded.erp_id`, entity, crmID, erpID)
}

func (w *writer) record(erp bool, rec model.Record, payments bool) error {
	f := rec.Fields
	archived := 0
	if rec.Archived {
		archived = 1
	}
	updated := rec.UpdatedAt.UTC().Format(time.RFC3339)
	day := rec.UpdatedAt.UTC().Format(time.DateOnly)
	switch {
	case !erp && rec.Entity == model.Account:
		if err := w.link("customer", rec.ID, rec.LinkKey); err != nil {
			return err
		}
		return w.exec(`INSERT INTO crm_account (id, name, segment, industry, owner, country, archived, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, segment = excluded.segment, industry = excluded.industry, owner = excluded.owner,
			country = excluded.country, archived = excluded.archived, updated_at = excluded.updated_at`,
			rec.ID, text(f, "name"), text(f, "segment"), text(f, "industry"), text(f, "owner"), text(f, "country"), archived, updated)

	case !erp && rec.Entity == model.Deal:
		if err := w.link("deal", rec.ID, rec.LinkKey); err != nil {
			return err
		}
		amount, cur := money(f, "amount")
		stage := text(f, "stage")
		var won any
		if stage == "won" {
			won = day
			if c := date(f, "close_date"); c != nil {
				won = c
			}
		}
		return w.exec(`INSERT INTO crm_deal (id, name, pipeline, stage, owner, account_id, amount, currency, close_date, won_date, archived, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, pipeline = excluded.pipeline, stage = excluded.stage, owner = excluded.owner,
			account_id = excluded.account_id, amount = excluded.amount, currency = excluded.currency, close_date = excluded.close_date,
			won_date = CASE WHEN excluded.won_date IS NULL THEN NULL WHEN excluded.close_date IS NOT NULL THEN excluded.close_date
				ELSE COALESCE(crm_deal.won_date, excluded.won_date) END,
			archived = excluded.archived, updated_at = excluded.updated_at`,
			rec.ID, text(f, "name"), text(f, "pipeline"), stage, text(f, "owner"), text(f, "account"), amount, cur,
			date(f, "close_date"), won, archived, updated)

	case erp && rec.Entity == model.Account:
		if err := w.link("customer", rec.LinkKey, rec.ID); err != nil {
			return err
		}
		limit, cur := money(f, "credit_limit")
		if c := text(f, "currency"); c != nil {
			cur = c
		}
		return w.exec(`INSERT INTO erp_customer (id, name, customer_number, payment_terms, country, credit_limit, currency, archived, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, customer_number = excluded.customer_number, payment_terms = excluded.payment_terms,
			country = excluded.country, credit_limit = excluded.credit_limit, currency = excluded.currency, archived = excluded.archived, updated_at = excluded.updated_at`,
			rec.ID, text(f, "name"), text(f, "customer_number"), text(f, "payment_terms"), text(f, "country"), limit, cur, archived, updated)

	case erp && rec.Entity == model.Product:
		if err := w.link("product", rec.LinkKey, rec.ID); err != nil {
			return err
		}
		list, cur := money(f, "list_price")
		cost, costCur := money(f, "cost_price")
		if cur == nil {
			cur = costCur
		}
		var active any
		if v := f.Get("active"); v.Kind == model.KindBool {
			active = boolInt(v.Bool)
		}
		return w.exec(`INSERT INTO erp_product (id, sku, name, category, list_price, cost_price, currency, active, archived, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, name = excluded.name, category = excluded.category, list_price = excluded.list_price,
			cost_price = excluded.cost_price, currency = excluded.currency, active = excluded.active, archived = excluded.archived, updated_at = excluded.updated_at`,
			rec.ID, text(f, "sku"), text(f, "name"), text(f, "category"), list, cost, cur, active, archived, updated)

	case erp && rec.Entity == model.Order:
		if err := w.link("deal", rec.LinkKey, rec.ID); err != nil {
			return err
		}
		cur := text(f, "currency")
		lines := f.Get("lines").Lines
		if err := w.exec(`DELETE FROM erp_order_line WHERE order_id = $1`, rec.ID); err != nil {
			return err
		}
		for i, l := range lines {
			lf := l.Fields
			price, lcur := money(lf, "unit_price")
			amount, acur := money(lf, "amount")
			if lcur == nil {
				lcur = acur
			}
			if lcur == nil {
				lcur = cur
			}
			if cur == nil {
				cur = lcur
			}
			if amount == nil {
				amount = lineAmount(lf)
			}
			if err := w.exec(`INSERT INTO erp_order_line (order_id, line_no, product_id, description, quantity, unit_price, discount, amount, currency)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				rec.ID, i+1, text(lf, "product"), text(lf, "description"), number(lf, "quantity"), price, number(lf, "discount"), amount, lcur); err != nil {
				return fmt.Errorf("line %d: %w", i+1, err)
			}
		}
		return w.exec(`INSERT INTO erp_order (id, customer_id, state, order_date, currency, archived, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, state = excluded.state,
			order_date = COALESCE($8, erp_order.order_date), currency = excluded.currency, archived = excluded.archived, updated_at = excluded.updated_at`,
			rec.ID, text(f, "account"), text(f, "state"), firstNonNil(date(f, "order_date"), day), cur, archived, updated, date(f, "order_date"))

	case erp && rec.Entity == model.Invoice:
		total, cur := money(f, "total")
		due, dcur := money(f, "amount_due")
		if cur == nil {
			cur = dcur
		}
		if err := w.exec(`INSERT INTO erp_invoice (id, number, order_id, customer_id, state, invoice_date, due_date, paid_date, total, amount_due, currency, archived, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (id) DO UPDATE SET number = excluded.number, order_id = excluded.order_id, customer_id = excluded.customer_id, state = excluded.state,
			invoice_date = excluded.invoice_date, due_date = excluded.due_date, paid_date = excluded.paid_date, total = excluded.total,
			amount_due = excluded.amount_due, currency = excluded.currency, archived = excluded.archived, updated_at = excluded.updated_at`,
			rec.ID, text(f, "number"), text(f, "order"), text(f, "account"), text(f, "state"), date(f, "invoice_date"), date(f, "due_date"),
			date(f, "paid_date"), total, due, cur, archived, updated); err != nil {
			return err
		}
		if payments {
			return nil
		}
		// No payment entity mapped: what was paid is the total less the
		// amount due, on the paid date.
		if err := w.exec(`DELETE FROM erp_payment WHERE id = $1`, "invoice:"+rec.ID); err != nil {
			return err
		}
		t, okT := dec(f, "total")
		a, okA := dec(f, "amount_due")
		if !okT || !okA || rec.Archived {
			return nil
		}
		paid := t.Sub(a)
		if !paid.IsPositive() {
			return nil
		}
		return w.exec(`INSERT INTO erp_payment (id, invoice_id, paid_on, amount, currency, method, derived) VALUES ($1, $2, $3, $4, $5, NULL, 1)`,
			"invoice:"+rec.ID, rec.ID, date(f, "paid_date"), paid.String(), cur)

	case erp && rec.Entity == model.Payment:
		if rec.Archived {
			return w.exec(`DELETE FROM erp_payment WHERE id = $1`, rec.ID)
		}
		amount, cur := money(f, "amount")
		return w.exec(`INSERT INTO erp_payment (id, invoice_id, paid_on, amount, currency, method, derived) VALUES ($1, $2, $3, $4, $5, $6, 0)
			ON CONFLICT (id) DO UPDATE SET invoice_id = excluded.invoice_id, paid_on = excluded.paid_on, amount = excluded.amount,
			currency = excluded.currency, method = excluded.method`,
			rec.ID, text(f, "invoice"), date(f, "date"), amount, cur, text(f, "method"))
	}
	return nil
}

// text returns a field as text (NULL when null): enums and text as they are,
// references as the referenced id, dates as YYYY-MM-DD, numbers exactly.
func text(f model.Fields, name string) any {
	v := f.Get(name)
	if v.IsNull() {
		return nil
	}
	switch v.Kind {
	case model.KindText, model.KindRef:
		return v.Str
	case model.KindDecimal, model.KindMoney:
		return v.Num.String()
	case model.KindDate, model.KindTime:
		return v.Time.UTC().Format(time.DateOnly)
	case model.KindBool:
		return strconv.FormatBool(v.Bool)
	}
	return v.String()
}

// money returns an amount (exact text) and its currency, or NULLs.
func money(f model.Fields, name string) (amount, currency any) {
	v := f.Get(name)
	switch v.Kind {
	case model.KindMoney:
		if v.Currency == "" {
			return v.Num.String(), nil
		}
		return v.Num.String(), v.Currency
	case model.KindDecimal:
		return v.Num.String(), nil
	case model.KindText:
		if d, err := decimal.NewFromString(v.Str); err == nil {
			return d.String(), nil
		}
	}
	return nil, nil
}

// number returns a decimal field as exact text, or NULL.
func number(f model.Fields, name string) any {
	a, _ := money(f, name)
	return a
}

// dec returns a decimal or money field.
func dec(f model.Fields, name string) (decimal.Decimal, bool) {
	v := f.Get(name)
	if v.Kind == model.KindMoney || v.Kind == model.KindDecimal {
		return v.Num, true
	}
	return decimal.Decimal{}, false
}

// date returns a date field as YYYY-MM-DD, or NULL.
func date(f model.Fields, name string) any {
	v := f.Get(name)
	switch v.Kind {
	case model.KindDate, model.KindTime:
		if v.Time.IsZero() {
			return nil
		}
		return v.Time.UTC().Format(time.DateOnly)
	case model.KindText:
		for _, layout := range []string{time.DateOnly, time.RFC3339, "2006-01-02 15:04:05"} {
			if t, err := time.Parse(layout, v.Str); err == nil {
				return t.UTC().Format(time.DateOnly)
			}
		}
	}
	return nil
}

// lineAmount is quantity x unit price x (1 - discount), exactly, for a line
// without an amount; NULL when a factor is missing.
func lineAmount(lf model.Fields) any {
	q, okQ := dec(lf, "quantity")
	p, okP := dec(lf, "unit_price")
	if !okQ || !okP {
		return nil
	}
	a := q.Mul(p)
	if d, ok := dec(lf, "discount"); ok {
		a = a.Mul(decimal.NewFromInt(1).Sub(d))
	}
	return a.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func firstNonNil(vs ...any) any {
	i := slices.IndexFunc(vs, func(v any) bool { return v != nil })
	if i < 0 {
		return nil
	}
	return vs[i]
}
