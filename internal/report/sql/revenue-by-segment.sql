-- title: Revenue per segment per month
-- description: Invoiced revenue (invoice lines, before tax) per month of the
-- description: invoice date and CRM segment of the customer, per currency.
-- description: Customers without a segment in the CRM, or not linked to it,
-- description: are under "(none)".
-- chart: month revenue by segment
SELECT dd.month AS month,
       COALESCE(c.segment, '(none)') AS segment,
       l.currency AS currency,
       count(DISTINCT l.invoice_id) AS invoices,
       dec_sum(l.amount) AS revenue
FROM fact_invoice_line l
JOIN dim_date dd ON dd.date = l.invoice_date
LEFT JOIN dim_customer c ON c.erp_id = l.erp_customer_id
WHERE l.invoice_date >= :since
GROUP BY dd.month, COALESCE(c.segment, '(none)'), l.currency
ORDER BY month, segment, currency;
