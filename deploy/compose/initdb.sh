#!/bin/sh
# Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d):
# a role for Concord, its store database, and the ERP: Northwind plus erp.sql.
# (The server listens on its Unix socket only while this runs.)
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE concord LOGIN PASSWORD '${CONCORD_DB_PASSWORD}';
CREATE DATABASE concord OWNER concord;
CREATE DATABASE erp OWNER concord;
SQL
psql -q -v ON_ERROR_STOP=1 --username concord --dbname erp -f /concord/northwind.sql >/dev/null
psql -q -v ON_ERROR_STOP=1 --username concord --dbname erp -f /concord/erp.sql
