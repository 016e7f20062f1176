-- title: Days from won to invoiced to paid
-- description: Per month a deal was won: the won deals, how many of them the
-- description: ERP invoiced and how many are paid, and the average days from
-- description: won to invoiced, invoiced to paid and won to paid (over the
-- description: deals that reached each step). A deal reaches its invoice
-- description: through the sale order it became.
-- chart: month_won days_won_to_invoiced,days_invoiced_to_paid
SELECT dw.month AS month_won,
       count(*) AS deals,
       count(i.invoice_id) AS invoiced,
       count(i.paid_date) AS paid,
       round(avg(di.day_number - dw.day_number), 1) AS days_won_to_invoiced,
       round(avg(dp.day_number - di.day_number), 1) AS days_invoiced_to_paid,
       round(avg(dp.day_number - dw.day_number), 1) AS days_won_to_paid
FROM fact_deal d
JOIN dim_date dw ON dw.date = d.won_date
LEFT JOIN fact_invoice i ON i.order_id = d.order_id
LEFT JOIN dim_date di ON di.date = i.invoice_date
LEFT JOIN dim_date dp ON dp.date = i.paid_date
WHERE d.won_date >= :since
GROUP BY dw.month
ORDER BY dw.month;
