-- The reporting database: what Concord last read from the CRM and the ERP, one
-- table per system and entity (the source tables, upserted by each refresh),
-- and on top of them the star schema the reports query (dim_* and fact_*
-- views). Money is exact: {{money}} columns, never floating point, each with
-- its currency beside it. Dates are text, YYYY-MM-DD; dim_date turns them into
-- months, quarters and day numbers.

CREATE TABLE IF NOT EXISTS report_cursor (
  system     TEXT NOT NULL,
  entity     TEXT NOT NULL,
  cursor     TEXT NOT NULL,
  records    BIGINT NOT NULL DEFAULT 0,
  refreshed  TEXT NOT NULL,
  PRIMARY KEY (system, entity)
);

-- report_link pairs a CRM record with its ERP counterpart, as either system's
-- link field says (entity: customer, product, deal; a deal's ERP counterpart is
-- its sale order).
CREATE TABLE IF NOT EXISTS report_link (
  entity TEXT NOT NULL,
  crm_id TEXT NOT NULL,
  erp_id TEXT NOT NULL,
  PRIMARY KEY (entity, crm_id)
);
CREATE INDEX IF NOT EXISTS report_link_erp ON report_link (entity, erp_id);

CREATE TABLE IF NOT EXISTS crm_account (
  id         TEXT PRIMARY KEY,
  name       TEXT,
  segment    TEXT,
  industry   TEXT,
  owner      TEXT,
  country    TEXT,
  archived   INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT
);

CREATE TABLE IF NOT EXISTS erp_customer (
  id              TEXT PRIMARY KEY,
  name            TEXT,
  customer_number TEXT,
  payment_terms   TEXT,
  country         TEXT,
  credit_limit    {{money}},
  currency        TEXT,
  archived        INTEGER NOT NULL DEFAULT 0,
  updated_at      TEXT
);

CREATE TABLE IF NOT EXISTS erp_product (
  id         TEXT PRIMARY KEY,
  sku        TEXT,
  name       TEXT,
  category   TEXT,
  list_price {{money}},
  cost_price {{money}},
  currency   TEXT,
  active     INTEGER,
  archived   INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT
);

CREATE TABLE IF NOT EXISTS crm_deal (
  id         TEXT PRIMARY KEY,
  name       TEXT,
  pipeline   TEXT,
  stage      TEXT,
  owner      TEXT,
  account_id TEXT,
  amount     {{money}},
  currency   TEXT,
  close_date TEXT,
  won_date   TEXT,
  archived   INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT
);
CREATE INDEX IF NOT EXISTS crm_deal_account ON crm_deal (account_id);

CREATE TABLE IF NOT EXISTS erp_order (
  id          TEXT PRIMARY KEY,
  customer_id TEXT,
  state       TEXT,
  order_date  TEXT,
  currency    TEXT,
  archived    INTEGER NOT NULL DEFAULT 0,
  updated_at  TEXT
);
CREATE INDEX IF NOT EXISTS erp_order_customer ON erp_order (customer_id);

CREATE TABLE IF NOT EXISTS erp_order_line (
  order_id    TEXT NOT NULL,
  line_no     INTEGER NOT NULL,
  product_id  TEXT,
  description TEXT,
  quantity    {{money}},
  unit_price  {{money}},
  discount    {{money}},
  amount      {{money}},
  currency    TEXT,
  PRIMARY KEY (order_id, line_no)
);

CREATE TABLE IF NOT EXISTS erp_invoice (
  id           TEXT PRIMARY KEY,
  number       TEXT,
  order_id     TEXT,
  customer_id  TEXT,
  state        TEXT,
  invoice_date TEXT,
  due_date     TEXT,
  paid_date    TEXT,
  total        {{money}},
  amount_due   {{money}},
  currency     TEXT,
  archived     INTEGER NOT NULL DEFAULT 0,
  updated_at   TEXT
);
CREATE INDEX IF NOT EXISTS erp_invoice_order ON erp_invoice (order_id);
CREATE INDEX IF NOT EXISTS erp_invoice_customer ON erp_invoice (customer_id);

CREATE TABLE IF NOT EXISTS erp_payment (
  id         TEXT PRIMARY KEY,
  invoice_id TEXT,
  paid_on    TEXT,
  amount     {{money}},
  currency   TEXT,
  method     TEXT,
  derived    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS erp_payment_invoice ON erp_payment (invoice_id);

-- dim_rate is the ERP's exchange rates, copied in full by every refresh (the
-- connector's RateReader): from valid_from on, one unit of base is worth rate
-- units of currency. concord report --currency converts with these only.
CREATE TABLE IF NOT EXISTS dim_rate (
  currency   TEXT NOT NULL,
  base       TEXT NOT NULL,
  valid_from TEXT NOT NULL,
  rate       {{money}} NOT NULL,
  PRIMARY KEY (currency, base, valid_from)
);

CREATE TABLE IF NOT EXISTS dim_date (
  date       TEXT PRIMARY KEY,
  day_number INTEGER NOT NULL,
  year       INTEGER NOT NULL,
  quarter    TEXT NOT NULL,
  month      TEXT NOT NULL,
  month_no   INTEGER NOT NULL,
  weekday    INTEGER NOT NULL
);

-- The star schema.

DROP VIEW IF EXISTS fact_payment;
DROP VIEW IF EXISTS fact_invoice_line;
DROP VIEW IF EXISTS fact_invoice;
DROP VIEW IF EXISTS fact_deal;
DROP VIEW IF EXISTS dim_product;
DROP VIEW IF EXISTS dim_customer;

CREATE VIEW dim_customer AS
SELECT e.id AS erp_id, l.crm_id AS crm_id,
       COALESCE(c.name, e.name) AS name, c.segment, c.industry, c.owner,
       COALESCE(c.country, e.country) AS country,
       e.customer_number, e.payment_terms, e.credit_limit, e.currency
FROM erp_customer e
LEFT JOIN report_link l ON l.entity = 'customer' AND l.erp_id = e.id
LEFT JOIN crm_account c ON c.id = l.crm_id
WHERE e.archived = 0
UNION ALL
SELECT NULL, c.id, c.name, c.segment, c.industry, c.owner, c.country, NULL, NULL, NULL, NULL
FROM crm_account c
WHERE c.archived = 0 AND NOT EXISTS (
  SELECT 1 FROM report_link l JOIN erp_customer e ON e.id = l.erp_id AND e.archived = 0
  WHERE l.entity = 'customer' AND l.crm_id = c.id);

CREATE VIEW dim_product AS
SELECT p.id AS erp_id, l.crm_id AS crm_id, p.sku, p.name, p.category,
       p.list_price, p.cost_price, p.currency, p.active
FROM erp_product p
LEFT JOIN report_link l ON l.entity = 'product' AND l.erp_id = p.id
WHERE p.archived = 0;

CREATE VIEW fact_deal AS
SELECT d.id AS deal_id, d.name, d.pipeline, d.stage, d.owner,
       d.account_id AS crm_account_id, la.erp_id AS erp_customer_id,
       d.amount, d.currency, d.close_date, d.won_date,
       lo.erp_id AS order_id
FROM crm_deal d
LEFT JOIN report_link la ON la.entity = 'customer' AND la.crm_id = d.account_id
LEFT JOIN report_link lo ON lo.entity = 'deal' AND lo.crm_id = d.id
WHERE d.archived = 0;

CREATE VIEW fact_invoice AS
SELECT i.id AS invoice_id, i.number, i.order_id,
       COALESCE(i.customer_id, o.customer_id) AS erp_customer_id,
       lo.crm_id AS deal_id, i.state, i.invoice_date, i.due_date, i.paid_date,
       i.total, s.untaxed, dec_sub(i.total, s.untaxed) AS tax,
       i.amount_due, i.currency
FROM erp_invoice i
LEFT JOIN erp_order o ON o.id = i.order_id
LEFT JOIN report_link lo ON lo.entity = 'deal' AND lo.erp_id = i.order_id
LEFT JOIN (SELECT order_id, dec_sum(amount) AS untaxed FROM erp_order_line GROUP BY order_id) s ON s.order_id = i.order_id
WHERE i.archived = 0 AND COALESCE(i.state, '') <> 'cancelled';

CREATE VIEW fact_invoice_line AS
SELECT i.id AS invoice_id, l.line_no, i.invoice_date,
       COALESCE(i.customer_id, o.customer_id) AS erp_customer_id,
       l.product_id, l.description, l.quantity, l.unit_price, l.discount,
       l.amount, dec_mul(l.quantity, p.cost_price) AS cost,
       COALESCE(l.currency, i.currency) AS currency
FROM erp_invoice i
JOIN erp_order_line l ON l.order_id = i.order_id
LEFT JOIN erp_order o ON o.id = i.order_id
LEFT JOIN erp_product p ON p.id = l.product_id
WHERE i.archived = 0 AND COALESCE(i.state, '') <> 'cancelled';

CREATE VIEW fact_payment AS
SELECT p.id AS payment_id, p.invoice_id,
       COALESCE(i.customer_id, o.customer_id) AS erp_customer_id,
       p.paid_on, p.amount, COALESCE(p.currency, i.currency) AS currency, p.method, p.derived
FROM erp_payment p
LEFT JOIN erp_invoice i ON i.id = p.invoice_id
LEFT JOIN erp_order o ON o.id = i.order_id;
