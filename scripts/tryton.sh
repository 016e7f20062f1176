#!/usr/bin/env bash
# scripts/tryton.sh: a real Tryton 6.0 ERP (Debian 12 packages) for Concord's
# tests of the tryton connector.
#
#   bash scripts/tryton.sh [all|install|initdb|setup|start|stop|restart|status|clone NAME|drop NAME|env]
#
#   all (default)  install + initdb + setup + start; each step skips what is done
#   install        apt-get the Tryton packages (--no-install-recommends)
#   initdb         create the template database with the needed modules activated
#   setup          company, currency, chart of accounts, fiscal years, invoice
#                  sequences, payment term, payment method, tax, product
#                  categories, an employee and the non-admin user "concord"
#                  (Party and Product Administration, Sales, Sales
#                  Administrator, Account, Stock, Sale Opportunity)
#   start          start trytond in the background (pid file + log), wait for it
#   stop / status  stop the server / report whether it runs (exit 3 when stopped)
#   clone NAME     copy the template database to NAME (one per test suite);
#                  the running server serves it at $TRYTON_URL/NAME/ at once
#   drop NAME      delete a cloned database
#   env            print the variables the Go tests read
#
# Runs as root, is idempotent and exits non-zero on any failure. SQLite only:
# a clone is a file copy (sqlite3 backup API, consistent while trytond runs).
#
# Environment (default):
#   CONCORD_TRYTON_HOME (/var/lib/concord-tryton)  config, databases, log, pid
#   TRYTON_TEMPLATE_DB  (concord)                  the prepared template database
#   TRYTON_HOST (127.0.0.1)  TRYTON_PORT (8000)
#   TRYTON_ADMIN_PASSWORD (admin)                  user "admin" (created by trytond-admin)
#   TRYTON_USER (concord)                          the non-admin integration user
#   TRYTON_PASSWORD (Sync4Concord!)              its password (>= 8 chars, >= 75 % distinct)
#   TRYTON_COUNTRIES (US GB DE FR NL BE ES IT CA AU CH AT IE SE DK NO PL PT AR BR MX FI VE)
set -Eeuo pipefail

HOME_DIR=${CONCORD_TRYTON_HOME:-/var/lib/concord-tryton}
DB=${TRYTON_TEMPLATE_DB:-concord}
HOST=${TRYTON_HOST:-127.0.0.1}
PORT=${TRYTON_PORT:-8000}
ADMIN_PASSWORD=${TRYTON_ADMIN_PASSWORD:-admin}
SYNC_USER=${TRYTON_USER:-concord}
SYNC_PASSWORD=${TRYTON_PASSWORD:-Sync4Concord!}
PRICE_DECIMAL=8
CONFIG_CHANGED=0
COUNTRIES=${TRYTON_COUNTRIES:-US GB DE FR NL BE ES IT CA AU CH AT IE SE DK NO PL PT AR BR MX FI VE}

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
CONF=$HOME_DIR/trytond.conf
DBDIR=$HOME_DIR/db
PIDFILE=$HOME_DIR/trytond.pid
LOGFILE=$HOME_DIR/trytond.log
URL=http://$HOST:$PORT
# Debian's python: the trytond and proteus packages live in its dist-packages.
PY=/usr/bin/python3

MODULES="party company currency country product account account_product
account_invoice account_invoice_stock stock sale sale_opportunity"
PACKAGES="tryton-server tryton-proteus tryton-modules-party tryton-modules-company
tryton-modules-currency tryton-modules-country tryton-modules-product
tryton-modules-account tryton-modules-account-product
tryton-modules-account-invoice tryton-modules-account-invoice-stock
tryton-modules-stock tryton-modules-sale tryton-modules-sale-opportunity python3-pycountry
curl jq ca-certificates"

log() { printf '[tryton.sh %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" = 0 ] || die "run as root"

valid_name() {
	[[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] || die "bad database name '$1' (letters, digits, _)"
}

# ------------------------------------------------------------------ install
do_install() {
	local missing="" p
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		log "install: all packages present"
		return 0
	fi
	log "install:$missing"
	# Keep maintainer scripts from starting Debian's own tryton-server on :8000.
	local made_policy=0 rc=0 start=$SECONDS
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; } || rc=$?
	[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$rc" = 0 ] || die "apt-get install failed (exit $rc)"
	log "install: done in $((SECONDS - start)) s"
}

# ------------------------------------------------------------------- config
write_config() {
	mkdir -p "$DBDIR" "$HOME_DIR/attachments"
	cat >"$CONF.tmp" <<EOF
# written by scripts/tryton.sh; comments on their own lines (configparser)
[database]
uri = sqlite://
# SQLite databases are <path>/<name>.sqlite
path = $DBDIR
language = en
[web]
listen = $HOST:$PORT
# Unit prices with 8 decimals: a discount folded into a unit price must keep
# line totals exact to the cent (4 decimals lose cents on large quantities).
[product]
price_decimal = $PRICE_DECIMAL
EOF
	chmod 600 "$CONF.tmp"
	if [ -f "$CONF" ] && cmp -s "$CONF.tmp" "$CONF"; then
		rm -f "$CONF.tmp"
	else
		CONFIG_CHANGED=1
		mv "$CONF.tmp" "$CONF"
	fi
	sync_price_decimal
}

# sync_price_decimal makes the template's stored product price precision match
# the config (trytond refuses to load a database where they differ). Clones made
# afterwards inherit it.
sync_price_decimal() {
	[ -s "$DBDIR/$DB.sqlite" ] || return 0
	DBFILE="$DBDIR/$DB.sqlite" PRICE_DECIMAL=$PRICE_DECIMAL "$PY" - <<'PYEOF'
import os, sqlite3
db = sqlite3.connect(os.environ['DBFILE'])
cols = [r[1] for r in db.execute("PRAGMA table_info(ir_configuration)")]
if 'product_price_decimal' in cols:
    db.execute("UPDATE ir_configuration SET product_price_decimal = ? WHERE product_price_decimal IS NOT ?",
               (int(os.environ['PRICE_DECIMAL']), int(os.environ['PRICE_DECIMAL'])))
    db.commit()
db.close()
PYEOF
}

# db_state prints missing | empty | partial | ready for the template database.
db_state() {
	[ -f "$DBDIR/$DB.sqlite" ] || {
		echo missing
		return 0
	}
	CONF=$CONF DB=$DB MODULES="$MODULES" "$PY" -W ignore - <<'PYEOF'
import os
from trytond.config import config
config.update_etc(os.environ['CONF'])
from trytond import backend
from sql import Table
db = backend.Database(os.environ['DB']).connect()
if not db.test():
    print('empty')
else:
    conn = db.get_connection()
    try:
        cur = conn.cursor()
        m = Table('ir_module')
        cur.execute(*m.select(m.name, where=m.state == 'activated'))
        active = {r[0] for r in cur}
    finally:
        db.put_connection(conn)
    print('ready' if set(os.environ['MODULES'].split()) <= active else 'partial')
PYEOF
}

# ------------------------------------------------------------------- initdb
do_initdb() {
	write_config
	[ -f "$DBDIR/$DB.sqlite" ] || : >"$DBDIR/$DB.sqlite" # trytond wants the file
	local state
	state=$(db_state)
	if [ "$state" = ready ]; then
		log "initdb: $DB already has the modules"
		return 0
	fi
	log "initdb: $DB (state $state): activating modules (about 20 s)"
	local pass start=$SECONDS
	pass=$(mktemp)
	chmod 600 "$pass"
	printf '%s\n' "$ADMIN_PASSWORD" >"$pass"
	# --email and TRYTONPASSFILE keep trytond-admin from prompting.
	# shellcheck disable=SC2086
	if ! TRYTONPASSFILE=$pass /usr/bin/trytond-admin -c "$CONF" -d "$DB" -u $MODULES \
		--activate-dependencies --email admin@example.com </dev/null 2> >(grep -v -e "'crypt' is deprecated" -e 'from crypt import' >&2 || true); then
		rm -f "$pass"
		die "trytond-admin failed"
	fi
	rm -f "$pass"
	[ "$(db_state)" = ready ] || die "initdb: modules not activated"
	log "initdb: done in $((SECONDS - start)) s"
}

# -------------------------------------------------------------------- setup
do_setup() {
	write_config
	[ "$(db_state)" = ready ] || die "setup: template database not initialised (run initdb)"
	local start=$SECONDS
	CONF=$CONF DB=$DB SYNC_USER=$SYNC_USER SYNC_PASSWORD=$SYNC_PASSWORD COUNTRIES="$COUNTRIES" \
		"$PY" -W ignore - >"$HOME_DIR/setup-ids.txt" <<'PYEOF'
# The least accounting with which a sale can be confirmed, invoiced, posted
# and paid. Every object is looked up first, so a re-run changes nothing.
import datetime
import os
import sys
import warnings
from decimal import Decimal

with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    import passlib.utils  # noqa: F401  ('crypt' deprecation noise)
from proteus import Model, Wizard, config as pconfig

cfg = pconfig.set_trytond(database=os.environ['DB'], user='admin',
    config_file=os.environ['CONF'])


def say(msg):
    sys.stderr.write('[setup] %s\n' % msg)


def one(model, domain):
    found = Model.get(model).find(domain, limit=1)
    return found[0] if found else None


try:
    import pycountry
except ImportError:
    pycountry = None
Country = Model.get('country.country')
for code in os.environ['COUNTRIES'].split():
    if not Country.find([('code', '=', code)]):
        pc = pycountry.countries.get(alpha_2=code) if pycountry else None
        Country(code=code, name=pc.name if pc else code,
            code3=pc.alpha_3 if pc else None,
            code_numeric=pc.numeric if pc else None).save()

currency = one('currency.currency', [('code', '=', 'USD')])
if not currency:
    currency = Model.get('currency.currency')(name='US Dollar', symbol='$',
        code='USD', rounding=Decimal('0.01'))
    currency.save()
    Model.get('currency.currency.rate')(date=datetime.date(2000, 1, 1),
        rate=Decimal('1'), currency=currency).save()
    say('currency USD created')

User = Model.get('res.user')
company = one('company.company', [])
if not company:
    party = Model.get('party.party')(name='Concord Test Company')
    party.save()
    wiz = Wizard('company.company.config')
    wiz.execute('company')
    wiz.form.party = party
    wiz.form.currency = currency
    wiz.execute('add')
    company = one('company.company', [])
    say('company created')
cfg._context = User.get_preferences(True, {})

admin = User(cfg.user)
if not admin.employee:
    party = Model.get('party.party')(name='Concord Employee')
    party.save()
    employee = Model.get('company.employee')(party=party, company=company)
    employee.save()
    admin.employees.append(employee)
    admin.employee = employee
    admin.save()
    say('employee created')
cfg._context = User.get_preferences(True, {})

Account = Model.get('account.account')
if not Account.find([('company', '=', company.id)], limit=1):
    data, = Model.get('ir.model.data').find([('module', '=', 'account'),
        ('fs_id', '=', 'account_template_root_en')], limit=1)
    wiz = Wizard('account.create_chart')
    wiz.execute('account')
    wiz.form.account_template = Model.get('account.account.template')(data.db_id)
    wiz.form.company = company
    wiz.execute('create_account')
    wiz.form.account_receivable, = Account.find([('type.receivable', '=', True),
        ('company', '=', company.id)], limit=1)
    wiz.form.account_payable, = Account.find([('type.payable', '=', True),
        ('company', '=', company.id)], limit=1)
    wiz.execute('create_properties')
    say('chart of accounts created')


def account(domain):
    acc, = Account.find(domain + [('company', '=', company.id)], limit=1)
    return acc


revenue = account([('type.revenue', '=', True)])
expense = account([('type.expense', '=', True)])
cash = account([('name', '=', 'Main Cash')])
tax_account = account([('name', '=', 'Main Tax')])

# This year and the next: an invoice dated in a year without a fiscal year
# cannot be posted, and CI runs around New Year.
FiscalYear = Model.get('account.fiscalyear')
SequenceType = Model.get('ir.sequence.type')
today = datetime.date.today()
for year in (today.year, today.year + 1):
    first_day = datetime.date(year, 1, 1)
    if FiscalYear.find([('company', '=', company.id),
            ('start_date', '<=', first_day), ('end_date', '>=', first_day)]):
        continue
    fy = FiscalYear(name=str(year), company=company, start_date=first_day,
        end_date=datetime.date(year, 12, 31))
    move_type, = SequenceType.find([('name', '=', 'Account Move')], limit=1)
    fy.post_move_sequence = Model.get('ir.sequence')(
        name='Account Move %s' % year, sequence_type=move_type, company=company)
    fy.post_move_sequence.save()
    invoice_type, = SequenceType.find([('name', '=', 'Invoice')], limit=1)
    invoice_seq = Model.get('ir.sequence.strict')(name='Invoice %s' % year,
        sequence_type=invoice_type, company=company)
    invoice_seq.save()
    seqs, = fy.invoice_sequences
    seqs.out_invoice_sequence = invoice_seq
    seqs.in_invoice_sequence = invoice_seq
    seqs.out_credit_note_sequence = invoice_seq
    seqs.in_credit_note_sequence = invoice_seq
    fy.save()
    fy.click('create_period')
    say('fiscal year %s created' % year)

PaymentMethod = Model.get('account.invoice.payment.method')
if not PaymentMethod.find([('name', '=', 'Cash')]):
    journal, = Model.get('account.journal').find([('type', '=', 'cash')], limit=1)
    PaymentMethod(name='Cash', company=company, journal=journal,
        credit_account=cash, debit_account=cash).save()
    say('payment method Cash created')

term = one('account.invoice.payment_term', [('name', '=', 'Direct')])
if not term:
    term = Model.get('account.invoice.payment_term')(name='Direct')
    term.lines.new(type='remainder')
    term.save()
    say('payment term Direct created')
aconf = Model.get('account.configuration')(1)
if aconf.default_customer_payment_term != term:
    aconf.default_customer_payment_term = term
    aconf.save()

Tax = Model.get('account.tax')
tax = one('account.tax', [('name', '=', 'VAT 10%')])
if not tax:
    tax = Tax(name='VAT 10%', description='VAT 10%', type='percentage',
        rate=Decimal('0.10'), company=company, invoice_account=tax_account,
        credit_note_account=tax_account)
    tax.save()
    say('tax VAT 10% created')

# Every sold product needs an accounting category (revenue account, taxes).
Category = Model.get('product.category')
if not Category.find([('name', '=', 'Accounting')]):
    Category(name='Accounting', accounting=True, account_revenue=revenue,
        account_expense=expense).save()
    say('category Accounting created')
if not Category.find([('name', '=', 'Accounting VAT 10%')]):
    cat = Category(name='Accounting VAT 10%', accounting=True,
        account_revenue=revenue, account_expense=expense)
    cat.customer_taxes.append(Tax(tax.id))
    cat.save()
    say('category Accounting VAT 10% created')

# The non-admin user the connector logs in as.
Group = Model.get('res.group')
sync = one('res.user', [('login', '=', os.environ['SYNC_USER'])])
if not sync:
    sync = User(name='Concord Sync', login=os.environ['SYNC_USER'],
        password=os.environ['SYNC_PASSWORD'])
    for name in ['Party Administration', 'Product Administration', 'Sales',
            'Account', 'Stock', 'Sale Opportunity']:
        sync.groups.append(Group.find([('name', '=', name)])[0])
    sync.companies.append(Model.get('company.company')(company.id))
    sync.company = Model.get('company.company')(company.id)
    emp = User(cfg.user).employee
    sync.employees.append(Model.get('company.employee')(emp.id))
    sync.employee = Model.get('company.employee')(emp.id)
    sync.save()
    say('user %s created' % os.environ['SYNC_USER'])
# Sales Administrator: the connector calls the sale's "process" button to get
# the real error of a sale Tryton confirmed but did not invoice.
for name in ['Sales Administrator']:
    group, = Group.find([('name', '=', name)])
    if group not in sync.groups:
        sync.groups.append(group)
        sync.save()
        say('user %s added to %s' % (os.environ['SYNC_USER'], name))

unit, = Model.get('product.uom').find([('name', '=', 'Unit')], limit=1)
Location = Model.get('stock.location')
warehouse, = Location.find([('type', '=', 'warehouse')], limit=1)
storage, = Location.find([('code', '=', 'STO')], limit=1)
cats = {c.name: c.id for c in Category.find([])}
method, = PaymentMethod.find([('name', '=', 'Cash')])
ids = dict(company=company.id, currency=currency.id, uom_unit=unit.id,
    warehouse=warehouse.id, storage=storage.id, payment_term=term.id,
    payment_method=method.id, tax=tax.id, employee=User(cfg.user).employee.id,
    category_untaxed=cats['Accounting'], category_vat10=cats['Accounting VAT 10%'])
for k, v in sorted(ids.items()):
    print('%s=%s' % (k, v))
PYEOF
	log "setup: done in $((SECONDS - start)) s: $(tr '\n' ' ' <"$HOME_DIR/setup-ids.txt")"
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
		--data '{"id":0,"method":"common.server.version","params":[]}' "$URL/" 2>/dev/null |
		grep -q '"result"'
}

# cwd_deleted: the server's working directory no longer exists.
cwd_deleted() {
	local cwd
	cwd=$(readlink "/proc/$1/cwd" 2>/dev/null) || return 1
	[[ $cwd == *" (deleted)" ]]
}

do_start() {
	write_config
	local pid
	if pid=$(server_pid); then
		if [ "$CONFIG_CHANGED" = 0 ] && ! cwd_deleted "$pid"; then
			log "start: trytond already running (pid $pid) on $URL"
			return 0
		fi
		if cwd_deleted "$pid"; then
			# Started from a directory since removed (a worktree, a test's temp
			# dir): its reports resolve paths against the working directory
			# and fail with "[Errno 2] No such file or directory".
			log "start: trytond (pid $pid) runs in a deleted directory; restarting it"
		else
			log "start: the config changed; restarting trytond"
		fi
		do_stop
	fi
	[ "$(db_state)" = ready ] || die "start: template database not initialised (run initdb and setup)"
	answers && die "start: something else answers on $URL (set TRYTON_PORT)"
	rm -f "$PIDFILE"
	# -d loads the template's modules before the port opens.
	# From its own directory, never the caller's, which may be removed later.
	cd "$HOME_DIR"
	setsid nohup /usr/bin/trytond -c "$CONF" -d "$DB" --pidfile "$PIDFILE" \
		>>"$LOGFILE" 2>&1 </dev/null &
	cd - >/dev/null
	local i
	for i in $(seq 1 120); do
		answers && break
		sleep 0.5
	done
	pid=$(server_pid) || {
		tail -20 "$LOGFILE" >&2
		die "start: trytond did not start (log $LOGFILE)"
	}
	answers || die "start: trytond (pid $pid) does not answer on $URL"
	local login
	login=$(curl -sS -m 30 -X POST -H 'Content-Type: application/json' \
		--data "$(jq -nc --arg l "$SYNC_USER" --arg p "$SYNC_PASSWORD" \
			'{id:1,method:"common.db.login",params:[$l,{password:$p},"en"]}')" "$URL/$DB/")
	echo "$login" | jq -e '.result[1]' >/dev/null 2>&1 || die "start: login as $SYNC_USER failed"
	log "start: trytond pid $pid ready on $URL (log $LOGFILE)"
}

do_stop() {
	local pid
	if pid=$(server_pid); then
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
		rm -f "$PIDFILE"
		log "stop: trytond (pid $pid) stopped"
	else
		log "stop: trytond not running"
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
	[ -f "$DBDIR/$DB.sqlite" ] || die "clone: no template database (run all)"
	SRC=$DBDIR/$DB.sqlite DST=$DBDIR/$name.sqlite.tmp "$PY" -c '
import os, sqlite3
src = sqlite3.connect(os.environ["SRC"]); dst = sqlite3.connect(os.environ["DST"])
src.backup(dst); dst.close(); src.close()'
	mv "$DBDIR/$name.sqlite.tmp" "$DBDIR/$name.sqlite"
	log "clone: $DB -> $name ($URL/$name/)"
}

do_drop() {
	local name=${1:-}
	[ -n "$name" ] || die "usage: drop NAME"
	valid_name "$name"
	[ "$name" != "$DB" ] || die "drop: refusing to drop the template"
	rm -f "$DBDIR/$name.sqlite" "$DBDIR/$name.sqlite-journal"
	log "drop: $name"
}

do_env() {
	cat <<EOF
TRYTON_URL=$URL
TRYTON_TEMPLATE_DB=$DB
TRYTON_USER=$SYNC_USER
TRYTON_PASSWORD=$SYNC_PASSWORD
TRYTON_ADMIN_PASSWORD=$ADMIN_PASSWORD
TRYTON_CLONE_CMD="bash $SCRIPT clone"
TRYTON_DROP_CMD="bash $SCRIPT drop"
EOF
}

cmd=${1:-all}
shift || true
case "$cmd" in
all)
	do_install
	do_initdb
	do_setup
	do_start
	log "ready; the Go tests read:"
	do_env
	;;
install) do_install ;;
initdb)
	do_install
	do_initdb
	;;
setup) do_setup ;;
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
*) die "unknown command '$cmd' (all|install|initdb|setup|start|stop|restart|status|clone NAME|drop NAME|env)" ;;
esac
