package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/concord-sync/concord/internal/fx"
	"github.com/concord-sync/concord/internal/model"
	"github.com/concord-sync/concord/internal/store"
)

// Links is what the order-to-cash checks read from Concord's store: the links
// pairing a CRM deal with the ERP order it became (they share a concord id).
// store.Store satisfies it.
type Links interface {
	GetLinks(ctx context.Context, p *store.GetLinksParams) (map[string]store.Link, error)
	GetLinksByConcordID(ctx context.Context, p *store.GetLinksByConcordIDParams) (map[string]store.Link, error)
}

// O2CParams says where the order-to-cash chain lives: the CRM that wins deals
// and the ERP that turns them into orders and invoices.
type O2CParams struct {
	// CRM and ERP name the systems (as in the config); CRMSys and ERPSys are
	// them, opened.
	CRM, ERP       string
	CRMSys, ERPSys System
	// Links pairs deals and orders; nil pairs them only by the order's own
	// reference to the deal (its link key or reference field).
	Links Links
	// Since drops the months before it (zero: every month); handoffs are
	// current problems and are always reported.
	Since time.Time
	// PageSize is the most records per Read and ids per store query; 0 means
	// the connector's default page and 1000 ids.
	PageSize int
	// Currency, when set, is the currency the months are reported in: each
	// amount is converted with Rates, the ERP's exchange rates, at the rate
	// of its date (the latest on or before it). An amount with no such rate
	// stays in its own currency, with a note. Empty converts nothing.
	Currency string
	Rates    *fx.Table
	// Logger receives progress at debug level; nil logs nothing.
	Logger *slog.Logger
}

// O2C is what the order-to-cash checks read, for the report's summary.
type O2C struct {
	Deals    int `json:"deals"`
	Won      int `json:"won"`
	Orders   int `json:"orders"`
	Invoices int `json:"invoices"`
	// Paired counts the won deals with an ERP order.
	Paired int `json:"paired"`
}

// o2cData is both systems' order-to-cash records, paired.
type o2cData struct {
	deals    map[string]*deal
	orders   map[string]*order
	invoices map[string]*invoice
	// orderOf maps a deal id to its order id; dealOf the reverse.
	orderOf, dealOf map[string]string
	// invoicesOf maps an order id to its invoices (by id, in id order).
	invoicesOf map[string][]string
	// dealFields are the deal fields the CRM maps.
	dealFields []string
	// gone maps a deal id to the order id the store links it to when the
	// ERP no longer has that order.
	gone map[string]string
}

// OrderToCash reads the CRM's deals and the ERP's orders and invoices in full
// (connector.Read, paged), pairs them (a deal and its order through the
// store's links or the order's reference to the deal; an invoice through its
// order) and adds to r the handoffs that did not happen (won deals without an
// order, orders without an invoice, paid invoices the deal does not show,
// invoices without a deal) and, per month and currency, the CRM's won amount
// against the ERP's invoiced amount with the variance explained record by
// record. Amounts stay exact decimals in their own currency unless p.Currency
// asks for one; then they are converted only with the ERP's rates (p.Rates).
// It writes nothing. ctx cancels the reads.
func OrderToCash(ctx context.Context, p O2CParams, r *Report) error {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := readO2C(ctx, p)
	if err != nil {
		return err
	}
	sum := O2C{Deals: len(d.deals), Orders: len(d.orders), Invoices: len(d.invoices)}
	for _, dl := range d.deals {
		if dl.won() {
			sum.Won++
			if _, ok := d.orderOf[dl.id]; ok {
				sum.Paired++
			}
		}
	}
	r.O2C = &sum
	log.DebugContext(ctx, "order to cash read", "deals", sum.Deals, "won", sum.Won, "orders", sum.Orders, "invoices", sum.Invoices)
	r.Handoffs = append(r.Handoffs, handoffs(p, d, &r.Notes)...)
	months := monthly(d, &converter{to: p.Currency, rates: p.Rates}, &r.Notes)
	if !p.Since.IsZero() {
		from := p.Since.UTC().Format("2006-01")
		months = slices.DeleteFunc(months, func(m Month) bool { return m.Month < from })
	}
	r.Months = append(r.Months, months...)
	return nil
}

// readO2C reads the three entities and pairs them.
func readO2C(ctx context.Context, p O2CParams) (*o2cData, error) {
	d := &o2cData{deals: map[string]*deal{}, orders: map[string]*order{}, invoices: map[string]*invoice{},
		orderOf: map[string]string{}, dealOf: map[string]string{}, invoicesOf: map[string][]string{}, gone: map[string]string{}}
	fields, ok := o2cMaps(p.CRMSys, model.Deal)
	if !ok {
		return nil, fmt.Errorf("order to cash: system %s maps no deal entity", p.CRM)
	}
	d.dealFields = fields
	if _, ok := o2cMaps(p.ERPSys, model.Order); !ok {
		return nil, fmt.Errorf("order to cash: system %s maps no order entity", p.ERP)
	}
	if err := o2cReadAll(ctx, p.CRMSys, p.CRM, model.Deal, p.PageSize, func(r model.Record) { d.deals[r.ID] = toDeal(r) }); err != nil {
		return nil, err
	}
	if err := o2cReadAll(ctx, p.ERPSys, p.ERP, model.Order, p.PageSize, func(r model.Record) { d.orders[r.ID] = toOrder(r) }); err != nil {
		return nil, err
	}
	if _, ok := o2cMaps(p.ERPSys, model.Invoice); ok {
		if err := o2cReadAll(ctx, p.ERPSys, p.ERP, model.Invoice, p.PageSize, func(r model.Record) { d.invoices[r.ID] = toInvoice(r) }); err != nil {
			return nil, err
		}
	}
	if err := d.pair(ctx, p); err != nil {
		return nil, err
	}
	return d, nil
}

// pair links deals to orders (store links first, then the order's own
// reference to the deal) and invoices to orders.
func (d *o2cData) pair(ctx context.Context, p O2CParams) error {
	if p.Links != nil {
		ids := o2cKeys(d.deals)
		chunk := p.PageSize
		if chunk <= 0 {
			chunk = 1000
		}
		for part := range slices.Chunk(ids, chunk) {
			links, err := p.Links.GetLinks(ctx, &store.GetLinksParams{System: p.CRM, Entity: model.Deal, ExternalIDs: part})
			if err != nil {
				return fmt.Errorf("order to cash: links of %s deals: %w", p.CRM, err)
			}
			cids := make([]string, 0, len(links))
			dealOfCID := map[string]string{}
			for id, l := range links {
				cids = append(cids, l.ConcordID)
				dealOfCID[l.ConcordID] = id
			}
			slices.Sort(cids)
			orders, err := p.Links.GetLinksByConcordID(ctx, &store.GetLinksByConcordIDParams{System: p.ERP, Entity: model.Order, ConcordIDs: cids})
			if err != nil {
				return fmt.Errorf("order to cash: links of %s orders: %w", p.ERP, err)
			}
			for cid, l := range orders {
				if _, ok := d.orders[l.ExternalID]; !ok {
					d.gone[dealOfCID[cid]] = l.ExternalID // linked once, gone from the ERP since
					continue
				}
				d.orderOf[dealOfCID[cid]] = l.ExternalID
				d.dealOf[l.ExternalID] = dealOfCID[cid]
			}
		}
	}
	for _, id := range o2cKeys(d.orders) {
		o := d.orders[id]
		if _, ok := d.dealOf[id]; ok {
			continue
		}
		for _, ref := range []string{o.linkKey, o.reference} {
			if _, ok := d.deals[ref]; ok && ref != "" {
				if _, taken := d.orderOf[ref]; !taken {
					d.orderOf[ref], d.dealOf[id] = id, ref
					break
				}
			}
		}
	}
	// An invoice belongs to its order; without one (or an order the ERP no
	// longer has), to the deal its reference names.
	refOrder := map[string]string{}
	for dealID, orderID := range d.orderOf {
		refOrder[dealID] = orderID
	}
	for _, id := range o2cKeys(d.invoices) {
		in := d.invoices[id]
		if _, ok := d.orders[in.order]; !ok {
			in.order = refOrder[in.reference]
		}
		if in.order != "" {
			d.invoicesOf[in.order] = append(d.invoicesOf[in.order], id)
		}
	}
	return nil
}

// handoffs lists the order-to-cash steps that did not happen.
func handoffs(p O2CParams, d *o2cData, notes *[]string) []Handoff {
	var out []Handoff
	// Won deals without an order; their orders without an invoice.
	for _, id := range o2cKeys(d.deals) {
		dl := d.deals[id]
		if !dl.won() {
			continue
		}
		h := Handoff{DealID: dl.id, Account: dl.account, Amount: dl.amount, Currency: dl.currency, Since: dl.closed.Time}
		orderID, ok := d.orderOf[dl.id]
		if !ok {
			h.Kind = WonWithoutOrder
			h.Detail = fmt.Sprintf("%s is won but %s has no order for it", dl.label(), p.ERP)
			if gone, ok := d.gone[dl.id]; ok {
				h.Detail = fmt.Sprintf("%s is won but its order %s is gone from %s (Concord linked them)", dl.label(), gone, p.ERP)
			} else if dl.status != "" {
				h.Detail += "; the deal says: " + dl.status
			}
			out = append(out, h)
			continue
		}
		o := d.orders[orderID]
		h.OrderID = o.id
		if o.cancelled() {
			h.Kind = WonWithoutOrder
			h.Detail = fmt.Sprintf("%s is won but its order %s in %s is cancelled", dl.label(), o.id, p.ERP)
			out = append(out, h)
			continue
		}
		// The order's lines before the ERP rounds them (else its untaxed
		// total) against the deal's amount, both to the minor unit: a
		// rounding of the lines is not a finding, a changed line is.
		amt, ok := o.untaxedAmount()
		if o.hasLines {
			amt = o.exact
		}
		if ok && dl.hasAmount && (o.currency == "" || dl.currency == "" || o.currency == dl.currency) &&
			!model.RoundMoney(amt, dl.currency).Equal(model.RoundMoney(dl.amount, dl.currency)) {
			out = append(out, Handoff{Kind: AmountDiffersFromWon, DealID: dl.id, OrderID: o.id, Account: dl.account, Amount: amt.Sub(dl.amount),
				Currency: dl.currency, Since: dl.closed.Time,
				Detail: fmt.Sprintf("the lines of order %s come to %s %s before taxes, %s won %s %s", o.id, amt, dl.currency, dl.label(), dl.amount, dl.currency)})
		}
	}
	for _, id := range o2cKeys(d.orders) {
		o := d.orders[id]
		if o.cancelled() || o.state == "draft" || o.state == "quotation" {
			continue
		}
		invoiced := false
		var drafts []string
		for _, iid := range d.invoicesOf[id] {
			in := d.invoices[iid]
			if in.counts() {
				invoiced = true
			} else if in.state == "draft" {
				drafts = append(drafts, in.label())
			}
		}
		if invoiced {
			continue
		}
		h := Handoff{Kind: OrderWithoutInvoice, OrderID: o.id, DealID: d.dealOf[id], Account: o.account, Currency: o.currency, Since: o.date.Time}
		h.Amount, _ = o.untaxedAmount()
		h.Detail = fmt.Sprintf("order %s in %s has no posted invoice", o.id, p.ERP)
		if len(drafts) > 0 {
			h.Detail += " (still a draft: " + strings.Join(drafts, ", ") + ")"
		}
		if dl, ok := d.deals[h.DealID]; ok {
			h.Detail += "; from " + dl.label()
		}
		out = append(out, h)
	}
	// Invoices: without a deal; paid but the deal does not show it; shown
	// paid on the deal but not paid.
	showsState := slices.Contains(d.dealFields, "invoice_state")
	showsPaid := slices.Contains(d.dealFields, "paid_date")
	if !showsState && !showsPaid && len(d.invoices) > 0 {
		*notes = append(*notes, fmt.Sprintf("%s's deals map neither invoice_state nor paid_date: whether a deal shows its invoice paid is not checked", p.CRM))
	}
	for _, id := range o2cKeys(d.invoices) {
		in := d.invoices[id]
		if !in.counts() {
			continue
		}
		h := Handoff{InvoiceID: in.id, OrderID: in.order, Amount: in.total, Currency: in.currency, Since: in.date.Time}
		dl, ok := d.deals[d.dealOf[in.order]]
		if !ok {
			h.Kind = InvoiceWithoutDeal
			if in.order == "" {
				h.Detail = fmt.Sprintf("%s comes from no order in %s", in.label(), p.ERP)
			} else {
				h.Detail = fmt.Sprintf("%s comes from order %s, which no %s deal became", in.label(), in.order, p.CRM)
			}
			out = append(out, h)
			continue
		}
		h.DealID, h.Account = dl.id, dl.account
		if dl.invoiceNumber != "" && in.number != "" && dl.invoiceNumber != in.number && len(d.invoicesOf[in.order]) > 1 {
			continue // the deal shows another invoice of its order
		}
		dealPaid := (showsState && dl.invoiceState == "paid") || (!showsState && showsPaid && !dl.paidDate.IsNull())
		switch {
		case in.state == "paid" && (showsState || showsPaid) && !dealPaid:
			h.Kind, h.Since = PaidNotOnDeal, in.paid.Time
			shows := "no invoice state"
			if dl.invoiceState != "" {
				shows = "invoice state " + dl.invoiceState
			}
			h.Detail = fmt.Sprintf("%s is paid%s, %s shows %s", in.label(), onDate(in.paid), dl.label(), shows)
			out = append(out, h)
		case in.state != "paid" && dealPaid && (!in.hasDue || in.due.IsPositive()):
			h.Kind = UnpaidShownPaid
			h.Amount = in.due
			h.Detail = fmt.Sprintf("%s shows its invoice paid, but %s is %s with %s %s still due", dl.label(), in.label(), in.state, in.due, in.currency)
			out = append(out, h)
		}
	}
	return out
}

func onDate(v model.Value) string {
	if v.IsNull() || v.Time.IsZero() {
		return ""
	}
	return " on " + v.Time.Format(time.DateOnly)
}
