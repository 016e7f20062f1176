-- title: Top overdue balances
-- description: The 20 customers owing the most on invoices past their due
-- description: date (amount still due, per currency), with the number of
-- description: overdue invoices, the oldest due date and how many days it is
-- description: overdue today.
-- chart: customer overdue
SELECT * FROM (
  SELECT c.name AS customer,
         COALESCE(c.segment, '(none)') AS segment,
         i.currency AS currency,
         count(*) AS invoices,
         dec_sum(i.amount_due) AS overdue,
         min(i.due_date) AS oldest_due,
         max(dt.day_number - dd.day_number) AS days_overdue
  FROM fact_invoice i
  JOIN dim_date dd ON dd.date = i.due_date
  JOIN dim_date dt ON dt.date = :today
  LEFT JOIN dim_customer c ON c.erp_id = i.erp_customer_id
  WHERE i.due_date < :today AND i.due_date >= :since AND CAST(i.amount_due AS REAL) > 0
  GROUP BY i.erp_customer_id, c.name, c.segment, i.currency
) o
ORDER BY CAST(o.overdue AS REAL) DESC, o.customer
LIMIT 20;
