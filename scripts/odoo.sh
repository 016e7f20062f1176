#!/usr/bin/env bash
# scripts/odoo.sh: a real Odoo 17.0 Community ERP for Concord's tests of the
# odoo connector, on Debian 12's own Python and the PostgreSQL at 127.0.0.1.
#
#   bash scripts/odoo.sh [all|install|initdb|start|stop|restart|status|clone NAME|drop NAME|env]
#
#   all (default)  install + initdb + start; each step skips what is done
#   install        apt-get Debian's python3-* packages Odoo needs (only the
#                  missing ones), then unpack the Odoo 17.0 source archive
#   initdb         create the PostgreSQL role, write the config and initialise
#                  the template database once (sale_management, account, stock,
#                  contacts, crm; no demo data; 1.5-9 min), with the non-admin
#                  integration user and an API key for it
#   start          start odoo in the background (pid file + log), wait for it
#   stop / status  stop the server / report whether it runs (exit 3 when stopped)
#   clone NAME     copy the template database and its filestore to NAME
#                  (createdb -T, ~2 s); the running server serves it at once
#   drop NAME      delete a clone (only databases this script cloned)
#   env            print the variables the Go tests read
#
# Runs as root, is idempotent and exits non-zero on any failure. Steps that
# change the template or the server (initdb, start, stop, restart) hold an
# exclusive lock on $ODOO_LOCK, which the Go test helper odootest also takes.
#
# Odoo itself: the script unpacks odoo-17.0-*.tar.gz from ODOO_ARCHIVE, else
# from ../shared/odoo next to the repository (or next to its main worktree).
# ODOO_SRC may instead name an unpacked Odoo 17.0 source tree (with odoo-bin).
# Elsewhere, get Odoo 17.0 from https://nightly.odoo.com/17.0/nightly/src/ or
# `git clone --depth 1 -b 17.0 https://github.com/odoo/odoo` and set ODOO_SRC.
#
# The template database cannot be connected to once it is ready (ALLOW_CONNECTIONS
# false), so that createdb -T never meets an open connection; clones can.
#
# Environment (default):
#   CONCORD_ODOO_HOME (/var/lib/concord-odoo)  config, source, filestore, log, pid
#   ODOO_TEMPLATE_DB  (concord_odoo)           the prepared template database
#   ODOO_DB_ROLE      (concord_odoo)           PostgreSQL role (Odoo refuses postgres)
#   ODOO_PG_HOST (127.0.0.1)  ODOO_PG_PORT (5432)  ODOO_PG_SUPERUSER (postgres)
#   ODOO_HOST (127.0.0.1)  ODOO_PORT (8069)
#   ODOO_ADMIN_PASSWORD (admin)                user "admin" and the master password
#   ODOO_USER (concord)                        the non-admin integration user
#   ODOO_PASSWORD (Sync4Concord!)              its password
#   ODOO_LOCK (/tmp/concord-odoo.lock)
set -Eeuo pipefail

HOME_DIR=${CONCORD_ODOO_HOME:-/var/lib/concord-odoo}
DB=${ODOO_TEMPLATE_DB:-concord_odoo}
ROLE=${ODOO_DB_ROLE:-concord_odoo}
PGHOST_=${ODOO_PG_HOST:-127.0.0.1}
PGPORT_=${ODOO_PG_PORT:-5432}
PGSUPER=${ODOO_PG_SUPERUSER:-postgres}
HOST=${ODOO_HOST:-127.0.0.1}
PORT=${ODOO_PORT:-8069}
ADMIN_PASSWORD=${ODOO_ADMIN_PASSWORD:-admin}
SYNC_USER=${ODOO_USER:-concord}
SYNC_PASSWORD=${ODOO_PASSWORD:-Sync4Concord!}
LOCK=${ODOO_LOCK:-/tmp/concord-odoo.lock}
MODULES=sale_management,account,stock,contacts,crm
# Bump when the template's set-up changes: an older template is rebuilt.
TEMPLATE_VERSION=1
MARK="concord-odoo template v$TEMPLATE_VERSION"
INSTALLED_MARK="concord-odoo modules installed v$TEMPLATE_VERSION"
CLONE_MARK="concord-odoo clone of"

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SCRIPT")/.." && pwd)
CONF=$HOME_DIR/odoo.conf
DATA=$HOME_DIR/data
PIDFILE=$HOME_DIR/odoo.pid
LOGFILE=$HOME_DIR/odoo.log
KEYFILE=$HOME_DIR/apikey
URL=http://$HOST:$PORT
# Debian's python: another python3 on PATH may lack Debian's modules (psycopg2).
PY=/usr/bin/python3

PACKAGES="python3-babel python3-chardet python3-dateutil python3-decorator
python3-docutils python3-pil python3-jinja2 python3-libsass python3-lxml
python3-num2words python3-ofxparse python3-passlib python3-polib python3-psutil
python3-psycopg2 python3-pydot python3-openssl python3-pypdf2 python3-qrcode
python3-reportlab python3-requests python3-stdnum python3-tz python3-vobject
python3-werkzeug python3-xlsxwriter python3-xlrd python3-zeep python3-rjsmin
python3-asn1crypto python3-cbor2 python3-gevent python3-greenlet
python3-markupsafe python3-ldap python3-openpyxl python3-urllib3 python3-idna
python3-cryptography python3-xlwt python3-geoip2 postgresql-client curl jq"

log() { printf '[odoo.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" = 0 ] || die "run as root"

valid_name() {
	[[ $1 =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "bad database name '$1' (lower-case letters, digits, _)"
}

psql_super() { psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_" -p "$PGPORT_" -U "$PGSUPER" -d postgres -Atc "$1"; }
sql_lit() { printf "'%s'" "${1//\'/\'\'}"; }

# lock takes the exclusive lock shared with odootest (fd 9), once per run.
LOCKED=0
lock() {
	[ "$LOCKED" = 1 ] && return 0
	exec 9>>"$LOCK"
	if ! flock -n 9; then
		log "waiting for the lock $LOCK"
		flock 9
	fi
	LOCKED=1
}

# ------------------------------------------------------------------ install
odoo_tree() { # prints the source tree with odoo-bin
	if [ -n "${ODOO_SRC:-}" ]; then
		echo "$ODOO_SRC"
	else
		echo "$HOME_DIR/odoo-17.0"
	fi
}

find_archive() {
	local dirs=() d f common
	[ -n "${ODOO_ARCHIVE:-}" ] && { echo "$ODOO_ARCHIVE"; return 0; }
	dirs+=("$REPO/../shared/odoo")
	# A git worktree: the shared directory sits next to the main checkout.
	if common=$(git -C "$REPO" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
		dirs+=("$(dirname "$common")/../shared/odoo")
	fi
	for d in "${dirs[@]}"; do
		for f in "$d"/odoo-17.0-*.tar.gz; do
			[ -f "$f" ] && { readlink -f "$f"; return 0; }
		done
	done
	return 1
}

do_install() {
	local missing="" p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		log "install: all packages present"
	else
		log "install:$missing"
		local start=$SECONDS
		export DEBIAN_FRONTEND=noninteractive
		# shellcheck disable=SC2086
		apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null ||
			die "apt-get install failed"
		log "install: packages done in $((SECONDS - start)) s"
	fi
	local tree
	tree=$(odoo_tree)
	if [ -x "$tree/odoo-bin" ] || [ -f "$tree/odoo-bin" ]; then
		log "install: Odoo source at $tree"
		return 0
	fi
	[ -z "${ODOO_SRC:-}" ] || die "ODOO_SRC=$ODOO_SRC has no odoo-bin"
	local archive
	if ! archive=$(find_archive); then
		log "no Odoo 17.0 source found. Get it from the official nightly source releases"
		log "(https://nightly.odoo.com/17.0/nightly/src/odoo_17.0.latest.tar.gz) or from git"
		log "(git clone --depth 1 -b 17.0 https://github.com/odoo/odoo), then either set"
		log "ODOO_ARCHIVE=/path/to/odoo-17.0-*.tar.gz (unpacking to odoo-17.0/) or ODOO_SRC=/path/to/tree."
		log "The official Debian package (nightly.odoo.com/17.0/nightly/deb/) installs /usr/lib/python3/dist-packages/odoo:"
		log "ODOO_SRC must then name a directory with odoo-bin and odoo/addons."
		die "install: no Odoo source"
	fi
	log "install: unpacking $archive"
	mkdir -p "$HOME_DIR"
	rm -rf "$HOME_DIR/odoo-17.0.tmp"
	mkdir "$HOME_DIR/odoo-17.0.tmp"
	tar -xzf "$archive" -C "$HOME_DIR/odoo-17.0.tmp"
	[ -f "$HOME_DIR/odoo-17.0.tmp/odoo-17.0/odoo-bin" ] || die "install: $archive has no odoo-17.0/odoo-bin"
	mv "$HOME_DIR/odoo-17.0.tmp/odoo-17.0" "$HOME_DIR/odoo-17.0"
	rmdir "$HOME_DIR/odoo-17.0.tmp"
	log "install: Odoo unpacked to $HOME_DIR/odoo-17.0"
}

# ------------------------------------------------------------------- config
CONFIG_CHANGED=0
write_config() {
	local tree
	tree=$(odoo_tree)
	mkdir -p "$DATA"
	cat >"$CONF.tmp" <<EOF
; written by scripts/odoo.sh
[options]
addons_path = $tree/odoo/addons,$tree/addons
data_dir = $DATA
db_host = $PGHOST_
db_port = $PGPORT_
db_user = $ROLE
db_password = False
admin_passwd = $ADMIN_PASSWORD
http_interface = $HOST
http_port = $PORT
list_db = False
without_demo = all
workers = 0
max_cron_threads = 0
logfile = $LOGFILE
log_level = warn
; few PostgreSQL connections: the database server is shared with other tests
; (each loaded clone keeps ~10 MB in Odoo until evicted; restart frees them)
db_maxconn = 16
EOF
	# Only existing addons directories (a source tree has odoo/addons and addons).
	local paths="" p
	for p in "$tree/odoo/addons" "$tree/addons"; do
		[ -d "$p" ] && paths="${paths:+$paths,}$p"
	done
	sed -i "s|^addons_path = .*|addons_path = $paths|" "$CONF.tmp"
	chmod 600 "$CONF.tmp"
	if [ -f "$CONF" ] && cmp -s "$CONF.tmp" "$CONF"; then
		rm -f "$CONF.tmp"
	else
		CONFIG_CHANGED=1
		mv "$CONF.tmp" "$CONF"
	fi
}

ensure_role() {
	local have
	have=$(psql_super "SELECT 1 FROM pg_roles WHERE rolname = $(sql_lit "$ROLE")")
	if [ "$have" != 1 ]; then
		psql_super "CREATE ROLE \"$ROLE\" LOGIN CREATEDB"
		log "initdb: PostgreSQL role $ROLE created"
	fi
}

db_owned() { # NAME: exists and belongs to the role
	[ "$(psql_super "SELECT 1 FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = $(sql_lit "$1") AND r.rolname = $(sql_lit "$ROLE")")" = 1 ]
}

db_comment() { psql_super "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $(sql_lit "$1")"; }

db_exists() { [ "$(psql_super "SELECT 1 FROM pg_database WHERE datname = $(sql_lit "$1")")" = 1 ]; }

# template_state prints missing | installed (modules, no users yet) | ready |
# stale (unfinished or older) | foreign (not ours).
template_state() {
	if ! db_exists "$DB"; then
		echo missing
	elif ! db_owned "$DB"; then
		echo foreign
	else
		case $(db_comment "$DB") in
		"$MARK") echo ready ;;
		"$INSTALLED_MARK") echo installed ;;
		*) echo stale ;;
		esac
	fi
}

# odoo_bin [shell] ARGS: odoo-bin with the config (a subcommand comes first).
odoo_bin() {
	local sub=()
	if [ "${1:-}" = shell ]; then
		sub=(shell)
		shift
	fi
	(cd "$HOME_DIR" && "$PY" "$(odoo_tree)/odoo-bin" "${sub[@]}" -c "$CONF" "$@")
}

# ------------------------------------------------------------------- initdb
do_initdb() {
	lock
	ensure_role
	write_config
	local state
	state=$(template_state)
	case $state in
	ready)
		log "initdb: $DB is ready ($MARK)"
		return 0
		;;
	foreign) die "initdb: database $DB exists and is not owned by $ROLE; set ODOO_TEMPLATE_DB" ;;
	stale)
		log "initdb: $DB is unfinished or older than $MARK: rebuilding it"
		drop_db "$DB"
		;;
	esac
	local start=$SECONDS
	if [ "$state" != installed ]; then
		# The server does not serve the template: initialise it offline.
		log "initdb: initialising $DB with $MODULES (1.5-9 min)"
		if ! odoo_bin -d "$DB" -i "$MODULES" --stop-after-init --logfile "$HOME_DIR/initdb.log" </dev/null; then
			tail -30 "$HOME_DIR/initdb.log" >&2 || true
			die "initdb: odoo -i failed (log $HOME_DIR/initdb.log)"
		fi
		psql_super "COMMENT ON DATABASE \"$DB\" IS $(sql_lit "$INSTALLED_MARK")"
		log "initdb: modules installed in $((SECONDS - start)) s"
	fi
	log "initdb: setting up users"
	setup_template
	psql_super "COMMENT ON DATABASE \"$DB\" IS $(sql_lit "$MARK")"
	psql_super "ALTER DATABASE \"$DB\" WITH ALLOW_CONNECTIONS false"
	log "initdb: done in $((SECONDS - start)) s"
}

# setup_template sets admin's password and creates the integration user with
# the groups the connector needs, and an API key for it (kept in $KEYFILE).
setup_template() {
	local out
	out=$(ADMIN_PASSWORD=$ADMIN_PASSWORD SYNC_USER=$SYNC_USER SYNC_PASSWORD=$SYNC_PASSWORD \
		odoo_bin shell -d "$DB" --no-http --logfile "$HOME_DIR/setup.log" <<'PYEOF'
import os
admin = env.ref('base.user_admin')
admin.password = os.environ['ADMIN_PASSWORD']
groups = [
    'base.group_user',                 # internal user
    'base.group_partner_manager',      # create and edit contacts
    'sales_team.group_sale_manager',   # Sales: Administrator (products, orders)
    'account.group_account_invoice',   # Invoicing: Billing (invoices, payments)
    'stock.group_stock_user',          # Inventory: User (stock on hand)
]
login = os.environ['SYNC_USER']
user = env['res.users'].with_context(active_test=False).search([('login', '=', login)])
vals = {
    'name': 'Concord Sync', 'login': login, 'password': os.environ['SYNC_PASSWORD'],
    'email': 'concord-sync@example.invalid', 'active': True,
    'groups_id': [(6, 0, [env.ref(g).id for g in groups])],
    'company_id': env.company.id, 'company_ids': [(6, 0, [env.company.id])],
    'tz': 'UTC',
}
if user:
    user.write(vals)
else:
    user = env['res.users'].create(vals)
env['res.users.apikeys'].search([('user_id', '=', user.id)]).unlink()
key = env['res.users.apikeys'].with_user(user)._generate(None, 'concord tests')
env.cr.commit()
print('APIKEY=' + key)
PYEOF
	) || {
		tail -30 "$HOME_DIR/setup.log" >&2 || true
		die "initdb: set-up failed (log $HOME_DIR/setup.log)"
	}
	local key
	key=$(printf '%s\n' "$out" | sed -n 's/^APIKEY=//p' | tail -1)
	[ -n "$key" ] || die "initdb: set-up printed no API key"
	(umask 077 && printf '%s\n' "$key" >"$KEYFILE")
	log "initdb: user $SYNC_USER ready (API key in $KEYFILE)"
}

# --------------------------------------------------------------- start/stop
server_pid() {
	local pid
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

answers() {
	curl -sS -m 5 -X POST -H 'Content-Type: application/json' \
		--data '{"jsonrpc":"2.0","method":"call","params":{"service":"common","method":"version","args":[]},"id":0}' \
		"$URL/jsonrpc" 2>/dev/null | grep -q '"server_serie"'
}

# cwd_deleted: the server's working directory no longer exists.
cwd_deleted() {
	local cwd
	cwd=$(readlink "/proc/$1/cwd" 2>/dev/null) || return 1
	[[ $cwd == *" (deleted)" ]]
}

do_start() {
	lock
	write_config
	local pid
	if pid=$(server_pid); then
		if [ "$CONFIG_CHANGED" = 0 ] && ! cwd_deleted "$pid"; then
			log "start: odoo already running (pid $pid) on $URL"
			return 0
		fi
		if cwd_deleted "$pid"; then
			# Started from a directory since removed (a worktree, a test's temp
			# dir): its reports resolve paths against the working directory
			# and fail with "[Errno 2] No such file or directory".
			log "start: odoo (pid $pid) runs in a deleted directory; restarting it"
		else
			log "start: the config changed; restarting odoo"
		fi
		do_stop
	fi
	[ "$(template_state)" = ready ] || die "start: template database not initialised (run initdb)"
	answers && die "start: something else answers on $URL (set ODOO_PORT)"
	rm -f "$PIDFILE"
	# No -d: the server serves whichever database a call names (the clones);
	# the template refuses connections.
	# From its own directory, never the caller's, which may be removed later.
	cd "$HOME_DIR"
	setsid nohup "$PY" "$(odoo_tree)/odoo-bin" -c "$CONF" --pidfile "$PIDFILE" \
		>>"$HOME_DIR/odoo.out" 2>&1 </dev/null 9>&- &
	cd - >/dev/null
	local i
	for i in $(seq 1 180); do
		answers && break
		sleep 0.5
	done
	pid=$(server_pid) || {
		tail -20 "$LOGFILE" >&2 || true
		die "start: odoo did not start (log $LOGFILE)"
	}
	answers || die "start: odoo (pid $pid) does not answer on $URL"
	log "start: odoo pid $pid ready on $URL (log $LOGFILE)"
}

do_stop() {
	lock
	local pid
	if pid=$(server_pid); then
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
		rm -f "$PIDFILE"
		log "stop: odoo (pid $pid) stopped"
	else
		log "stop: odoo not running"
	fi
}

do_status() {
	local pid
	if pid=$(server_pid); then
		echo "running pid=$pid url=$URL template=$DB"
	else
		echo "stopped"
		return 3
	fi
}

# --------------------------------------------------------------- clone/drop
do_clone() {
	local name=${1:-}
	[ -n "$name" ] || die "usage: clone NAME"
	valid_name "$name"
	[ "$name" != "$DB" ] || die "clone: NAME must differ from the template"
	[ "$(template_state)" = ready ] || die "clone: no template database (run all)"
	if db_exists "$name"; then
		die "clone: database $name exists already"
	fi
	createdb -h "$PGHOST_" -p "$PGPORT_" -U "$PGSUPER" -O "$ROLE" -T "$DB" "$name"
	psql_super "COMMENT ON DATABASE \"$name\" IS $(sql_lit "$CLONE_MARK $DB")"
	# Odoo's attachments live in the filestore, one directory per database.
	if [ -d "$DATA/filestore/$DB" ]; then
		rm -rf "$DATA/filestore/$name"
		mkdir -p "$DATA/filestore"
		cp -a "$DATA/filestore/$DB" "$DATA/filestore/$name"
	fi
	log "clone: $DB -> $name"
}

# drop_db drops a database of the role and its filestore.
drop_db() {
	local name=$1
	if db_exists "$name"; then
		db_owned "$name" || die "drop: $name is not owned by $ROLE; not touching it"
		dropdb -h "$PGHOST_" -p "$PGPORT_" -U "$PGSUPER" --force "$name"
	fi
	rm -rf "${DATA:?}/filestore/$name"
}

do_drop() {
	local name=${1:-}
	[ -n "$name" ] || die "usage: drop NAME"
	valid_name "$name"
	[ "$name" != "$DB" ] || die "drop: refusing to drop the template"
	if db_exists "$name"; then
		case $(db_comment "$name") in
		"$CLONE_MARK"*) ;;
		*) die "drop: $name was not cloned by this script; not touching it" ;;
		esac
	fi
	drop_db "$name"
	log "drop: $name"
}

do_env() {
	local key=""
	[ -f "$KEYFILE" ] && key=$(cat "$KEYFILE")
	cat <<EOF
ODOO_URL=$URL
ODOO_TEMPLATE_DB=$DB
ODOO_USER=$SYNC_USER
ODOO_PASSWORD=$SYNC_PASSWORD
ODOO_API_KEY=$key
ODOO_ADMIN_PASSWORD=$ADMIN_PASSWORD
ODOO_LOCK=$LOCK
CONCORD_ODOO_HOME=$HOME_DIR
ODOO_CLONE_CMD="bash $SCRIPT clone"
ODOO_DROP_CMD="bash $SCRIPT drop"
EOF
}

cmd=${1:-all}
shift || true
case "$cmd" in
all)
	do_install
	do_initdb
	do_start
	log "ready; the Go tests read:"
	do_env
	;;
install) do_install ;;
initdb)
	do_install
	do_initdb
	;;
start) do_start ;;
stop) do_stop ;;
restart)
	do_stop
	do_start
	;;
status)
	trap - ERR
	do_status
	;;
clone) do_clone "$@" ;;
drop) do_drop "$@" ;;
env) do_env ;;
*) die "unknown command '$cmd' (all|install|initdb|start|stop|restart|status|clone NAME|drop NAME|env)" ;;
esac
