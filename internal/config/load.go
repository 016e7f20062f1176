package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/concord-sync/concord/internal/connector"
)

// Load reads the config file at path, resolves its secret references from the
// process environment and from files, and validates it against the connectors
// in reg. On any problem it returns an *Error holding all of them, each with
// its line and column; a file that cannot be read gives a plain wrapped error.
// It reads at most MaxConfigBytes (and one more byte, to refuse a larger file).
// Load does no network I/O and does not open the store.
func Load(path string, reg *connector.Registry) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	// Read one byte past the limit, so that Parse refuses a larger file
	// without this reading all of it (or forever, from a device).
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, reg, os.LookupEnv)
}

// Parse is Load for a file already read: path names the file in problems and
// anchors relative paths (the store path, file: references); env looks up
// environment variables (nil means os.LookupEnv). It returns the config or an
// *Error with every problem found. Before the YAML parser sees data, a file
// larger than MaxConfigBytes, nested deeper than MaxConfigDepth or with more
// than MaxConfigKeys keys in one mapping is refused with the position where
// the limit is passed.
func Parse(path string, data []byte, reg *connector.Registry, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	if reg == nil {
		reg = connector.NewRegistry()
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config dir: %w", err)
	}
	sum := sha256.Sum256(data)
	cfg := DefaultConfig()
	cfg.Path = path
	cfg.Dir = dir
	cfg.Version = hex.EncodeToString(sum[:])[:12]

	if p := checkLimits(path, data); p != nil {
		return nil, &Error{Problems: []Problem{*p}}
	}
	root, perr := parseYAML(path, data)
	if perr != nil {
		return nil, &Error{Problems: []Problem{*perr}}
	}
	l := &loader{
		decoder: decoder{file: path},
		cfg:     cfg,
		reg:     reg,
		res:     &resolver{dir: dir, env: env},
	}
	l.root(root)
	if len(l.problems) > 0 {
		e := &Error{Problems: l.problems}
		e.sort()
		return nil, e
	}
	return cfg, nil
}

// loader decodes and validates one file into cfg.
type loader struct {
	decoder
	cfg *Config
	reg *connector.Registry
	res *resolver
	// systemLines maps a system name to the line it was declared on.
	systemLines map[string]int
}

func (l *loader) root(n *node) {
	if n.kind == kindNull {
		l.add(n, "the config file is empty; see docs/config.md for an example")
		return
	}
	m := l.object(n, "the config file", rootSchema)
	if n.kind != kindMap {
		return
	}

	if v, ok := m["version"]; !ok {
		l.add(n, "missing version; add version: 1")
	} else if i, ok := l.integer(v.v, "version", 0); ok && i != 1 {
		l.add(v.v, "unsupported version %d; this concord reads version 1", i)
	}

	owner, isStr := l.str(m["owner"].v, "owner")
	if owner == "" && (isStr || m["owner"].v == nil || m["owner"].v.kind == kindNull) {
		at := n
		if e, ok := m["owner"]; ok {
			at = e.k
		}
		l.add(at, "missing owner: name the person who owns this integration (owner: jane.doe@example.com); an integration without an owner rots quietly")
	}
	l.cfg.Owner = owner

	l.store(m["store"].v)
	l.sync(m["sync"].v)
	if _, ok := m["systems"]; !ok {
		l.add(n, "missing systems; configure at least one system to connect")
	}
	l.systems(m["systems"].v)
	l.entities(m["entities"].v)
	l.flows(m["flows"].v)
	l.retention(m["retention"].v)
	l.alerts(m["alerts"].v)
	l.tracing(m["tracing"].v)
	l.report(m["report"].v)
	l.reconcile(m["reconcile"].v)
	l.console(m["console"].v)
}

func (l *loader) store(n *node) {
	m := l.object(n, "store", storeSchema)
	st := &l.cfg.Store
	if d, ok := l.enum(m["driver"].v, "store.driver", Drivers); ok {
		st.Driver = d
	}
	path, hasPath := m["path"]
	dsn, hasDSN := m["dsn"]
	switch st.Driver {
	case DriverSQLite:
		if hasDSN {
			l.add(dsn.k, "store.dsn applies to the postgres driver; sqlite uses store.path")
		}
		if p, ok := l.str(path.v, "store.path"); ok {
			if p == "" {
				l.add(path.v, "store.path is empty")
			}
			st.Path = p
		}
		if !filepath.IsAbs(st.Path) {
			st.Path = filepath.Join(l.cfg.Dir, st.Path)
		}
	case DriverPostgres:
		st.Path = ""
		if hasPath {
			l.add(path.k, "store.path applies to the sqlite driver; postgres uses store.dsn")
		}
		if !hasDSN {
			l.add(n, "store.driver postgres needs store.dsn (for example dsn: env:CONCORD_DATABASE_URL)")
			return
		}
		if _, ok := l.str(dsn.v, "store.dsn"); ok {
			if v, ok := l.maybeSecret(l.res, dsn.v, "store.dsn", true); ok {
				st.DSN = v
			}
		}
	}
}

func (l *loader) sync(n *node) {
	m := l.object(n, "sync", syncSchema)
	s := &l.cfg.Sync
	if v, ok := l.integer(m["batch_size"].v, "sync.batch_size", 1); ok {
		s.BatchSize = v
	}
	if v, ok := l.integer(m["workers"].v, "sync.workers", 1); ok {
		s.Workers = v
	}
	if v, ok := l.integer(m["partitions"].v, "sync.partitions", 1); ok {
		if v > 64 {
			l.add(m["partitions"].v, "sync.partitions: at most 64")
		} else {
			s.Partitions = v
		}
	}
	if v, ok := l.duration(m["poll_interval"].v, "sync.poll_interval"); ok {
		s.PollInterval = v
	}
	if v, ok := l.duration(m["overlap"].v, "sync.overlap"); ok {
		s.Overlap = v
	}
	if v, ok := l.duration(m["wait_limit"].v, "sync.wait_limit"); ok {
		s.WaitLimit = v
	}
	r := l.object(m["retry"].v, "sync.retry", retrySchema)
	if v, ok := l.integer(r["max_attempts"].v, "sync.retry.max_attempts", 1); ok {
		s.Retry.MaxAttempts = v
	}
	if v, ok := l.duration(r["backoff"].v, "sync.retry.backoff"); ok {
		s.Retry.Backoff = v
	}
	if v, ok := l.duration(r["max_backoff"].v, "sync.retry.max_backoff"); ok {
		s.Retry.MaxBackoff = v
	}
	if s.Retry.MaxBackoff < s.Retry.Backoff {
		at := r["max_backoff"].v
		if at == nil {
			at = r["backoff"].v
		}
		l.add(at, "sync.retry.max_backoff %s is shorter than backoff %s", s.Retry.MaxBackoff, s.Retry.Backoff)
	}
}
