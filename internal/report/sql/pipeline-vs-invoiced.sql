-- title: Pipeline vs invoiced
-- description: Per month and currency: the open pipeline (CRM deals neither won
-- description: nor lost, by expected close date), the amount won (deals by won
-- description: date) and the amount invoiced in the ERP (invoice lines before
-- description: tax, by invoice date), and won less invoiced. Open deals without
-- description: a close date are not in it.
-- chart: month pipeline,won,invoiced
SELECT month, currency,
       dec_sum(pipeline) AS pipeline,
       dec_sum(won) AS won,
       dec_sum(invoiced) AS invoiced,
       dec_sub(COALESCE(dec_sum(won), 0), COALESCE(dec_sum(invoiced), 0)) AS won_minus_invoiced
FROM (
  SELECT dd.month AS month, d.currency AS currency, d.amount AS pipeline, CAST(NULL AS NUMERIC) AS won, CAST(NULL AS NUMERIC) AS invoiced
  FROM fact_deal d JOIN dim_date dd ON dd.date = d.close_date
  WHERE COALESCE(d.stage, '') NOT IN ('won', 'lost') AND d.close_date >= :since
  UNION ALL
  SELECT dd.month, d.currency, CAST(NULL AS NUMERIC), d.amount, CAST(NULL AS NUMERIC)
  FROM fact_deal d JOIN dim_date dd ON dd.date = d.won_date
  WHERE d.won_date >= :since
  UNION ALL
  SELECT dd.month, l.currency, CAST(NULL AS NUMERIC), CAST(NULL AS NUMERIC), l.amount
  FROM fact_invoice_line l JOIN dim_date dd ON dd.date = l.invoice_date
  WHERE l.invoice_date >= :since
) x
GROUP BY month, currency
ORDER BY month, currency;
