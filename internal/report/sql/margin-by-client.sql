-- title: Margin per client
-- description: Revenue (invoice lines, before tax) less the cost of goods
-- description: (quantity times the product's cost price in the ERP) per
-- description: customer, with its CRM segment, per currency, biggest revenue
-- description: first. Margin and margin_pct cover the lines whose product has
-- description: a cost price; lines_without_cost counts the others.
-- chart: customer revenue,margin
SELECT * FROM (
  SELECT c.name AS customer,
         COALESCE(c.segment, '(none)') AS segment,
         l.currency AS currency,
         dec_sum(l.amount) AS revenue,
         dec_sum(l.cost) AS cost,
         dec_sub(dec_sum(CASE WHEN l.cost IS NOT NULL THEN l.amount END), dec_sum(l.cost)) AS margin,
         dec_div(dec_mul(dec_sub(dec_sum(CASE WHEN l.cost IS NOT NULL THEN l.amount END), dec_sum(l.cost)), 100),
                 dec_sum(CASE WHEN l.cost IS NOT NULL THEN l.amount END), 1) AS margin_pct,
         sum(CASE WHEN l.cost IS NULL THEN 1 ELSE 0 END) AS lines_without_cost
  FROM fact_invoice_line l
  LEFT JOIN dim_customer c ON c.erp_id = l.erp_customer_id
  WHERE l.invoice_date >= :since
  GROUP BY l.erp_customer_id, c.name, c.segment, l.currency
) m
ORDER BY CAST(m.revenue AS REAL) DESC, m.customer;
