-- Exact decimal helpers, so that one report SQL runs on SQLite (where
-- Concord registers them in Go) and on PostgreSQL (numeric arithmetic).
CREATE OR REPLACE FUNCTION dec_add(numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 + $2';
CREATE OR REPLACE FUNCTION dec_sub(numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 - $2';
CREATE OR REPLACE FUNCTION dec_mul(numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 * $2';
CREATE OR REPLACE FUNCTION dec_div(numeric, numeric, integer) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT round($1 / NULLIF($2, 0), $3)';
CREATE OR REPLACE FUNCTION dec_round(numeric, integer) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT round($1, $2)';
CREATE OR REPLACE AGGREGATE dec_sum(numeric) (SFUNC = numeric_add, STYPE = numeric);
-- dec_fx(amount, num, den) is amount x num / den carried to 20 decimal places
-- (report.ConvertedScale): a converted amount, num/den being the exact factor
-- of the ERP's rates.
CREATE OR REPLACE FUNCTION dec_fx(numeric, numeric, numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT round(round($1 * $2, 40) / $3, 20)';
