package report

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

//go:embed sql/*.sql
var builtin embed.FS

// Report is one report: a SQL query over the star schema with a title, a
// description and an optional chart, read from a .sql file's header comments:
//
//	-- title: Revenue per segment per month
//	-- description: one or more lines of what it shows
//	-- chart: LABEL VALUE[,VALUE...] [by SERIES]
//
// The query may use the parameters :since (the --since date, YYYY-MM-DD;
// 0001-01-01 without it) and :today (today's date).
type Report struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Chart is the chart spec; empty for no chart.
	Chart string `json:"chart,omitempty"`
	// Source is "built-in" or the file the report was read from.
	Source string `json:"source"`
	SQL    string `json:"-"`
}

// Catalog is the set of reports: the built-in ones and those of the
// configured directory, by name. A user's file with a built-in report's name
// replaces it.
type Catalog struct {
	reports map[string]*Report
}

// nameRe is what a report's name (its file name without .sql) may be.
var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// LoadCatalog reads the built-in reports and the .sql files of dir (none when
// dir is empty). A file it cannot read or parse is an error naming it.
func LoadCatalog(dir string) (*Catalog, error) {
	c := &Catalog{reports: map[string]*Report{}}
	files, err := fs.Glob(builtin, "sql/*.sql")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		src, err := builtin.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r, err := Parse(strings.TrimSuffix(filepath.Base(f), ".sql"), string(src))
		if err != nil {
			return nil, fmt.Errorf("report: built-in %s: %w", f, err)
		}
		r.Source = "built-in"
		c.reports[r.Name] = r
	}
	if dir == "" {
		return c, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("report: reports directory: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		name := strings.TrimSuffix(e.Name(), ".sql")
		if !nameRe.MatchString(name) {
			return nil, fmt.Errorf("report: %s: a report's file name is lower-case letters, digits, - and _, then .sql", path)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		r, err := Parse(name, string(src))
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", path, err)
		}
		r.Source = path
		c.reports[name] = r
	}
	return c, nil
}

// Reports returns the reports by name.
func (c *Catalog) Reports() []*Report {
	out := make([]*Report, 0, len(c.reports))
	for _, r := range c.reports {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Report) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the report named name.
func (c *Catalog) Lookup(name string) (*Report, bool) {
	r, ok := c.reports[name]
	return r, ok
}

// Names returns the report names, sorted.
func (c *Catalog) Names() []string {
	var out []string
	for _, r := range c.Reports() {
		out = append(out, r.Name)
	}
	return out
}

// Parse reads a report's header comments and query.
func Parse(name, src string) (*Report, error) {
	r := &Report{Name: name, Title: name}
	var desc, body []string
	header := true
	for i, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		if header && strings.HasPrefix(t, "--") {
			key, val, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(t, "--")), ":")
			if !ok {
				continue
			}
			val = strings.TrimSpace(val)
			switch strings.TrimSpace(key) {
			case "title":
				r.Title = val
			case "description":
				desc = append(desc, val)
			case "chart":
				if _, err := parseChart(val); err != nil {
					return nil, fmt.Errorf("line %d: %w", i+1, err)
				}
				r.Chart = val
			}
			continue
		}
		if t != "" {
			header = false
		}
		body = append(body, line)
	}
	r.Description = strings.Join(desc, " ")
	r.SQL = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.Join(body, "\n")), ";"))
	if r.SQL == "" {
		return nil, fmt.Errorf("no query")
	}
	if strings.Contains(r.SQL, ";") && strings.Contains(stripStrings(r.SQL), ";") {
		return nil, fmt.Errorf("one query per report (a ; inside it)")
	}
	return r, nil
}

// stripStrings blanks the quoted literals of a query.
func stripStrings(q string) string {
	return regexp.MustCompile(`'[^']*'`).ReplaceAllString(q, "''")
}

// chartSpec is a parsed "LABEL VALUE[,VALUE...] [by SERIES]".
type chartSpec struct {
	label  string
	values []string
	by     string
}

func parseChart(s string) (chartSpec, error) {
	f := strings.Fields(s)
	var c chartSpec
	switch {
	case len(f) == 2:
	case len(f) == 4 && f[2] == "by":
		c.by = f[3]
	default:
		return c, fmt.Errorf("chart: want LABEL VALUE[,VALUE...] [by SERIES], got %q", s)
	}
	c.label, c.values = f[0], strings.Split(f[1], ",")
	return c, nil
}
