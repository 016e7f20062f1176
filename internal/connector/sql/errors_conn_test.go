package sqlconn_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/connector"
	sqlconn "github.com/concord-sync/concord/internal/connector/sql"
	"github.com/concord-sync/concord/internal/model"
)

// TestConn_ErrorClasses checks that opening and reading tell a database that
// is away (retry) from a configuration that is wrong (stop): an unknown table,
// an unknown database, a port nobody answers on.
func TestConn_ErrorClasses(t *testing.T) {
	t.Parallel()

	t.Run("UnknownTableIsPermanent", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, b backend) {
			f := newFixture(t, b)
			c := f.open(t)
			_, err := f.admin.Exec("DROP TABLE " + f.quote(f.accounts))
			require.NoError(t, err)
			_, err = c.Read(context.Background(), connector.ReadRequest{Entity: model.Account, Limit: 10})
			require.Error(t, err)
			require.True(t, connector.IsPermanent(err), "%v", err)
			require.False(t, connector.IsTransient(err), "%v", err)
		})
	})

	t.Run("UnknownDatabaseIsPermanent", func(t *testing.T) {
		t.Parallel()
		for _, b := range backends {
			if b.driver == sqlconn.DriverSQLite {
				continue
			}
			t.Run(b.driver, func(t *testing.T) {
				t.Parallel()
				dsn := b.dsn(t)
				if b.driver == sqlconn.DriverPostgres {
					u, err := url.Parse(dsn)
					require.NoError(t, err)
					u.Path = "/concord_h3_no_such_db"
					dsn = u.String()
				} else {
					i := strings.LastIndex(dsn, "/")
					j := strings.Index(dsn[i:], "?")
					rest := ""
					if j >= 0 {
						rest = dsn[i+j:]
					}
					dsn = dsn[:i] + "/concord_h3_no_such_db" + rest
				}
				_, err := sqlconn.Open(context.Background(), connector.OpenParams{System: "erp", Settings: settingsFor(b.driver, dsn)})
				require.Error(t, err)
				require.True(t, connector.IsPermanent(err), "%v", err)
				require.False(t, connector.IsTransient(err), "%v", err)
			})
		}
	})

	t.Run("NobodyListeningIsTransient", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		for driver, dsn := range map[string]string{
			sqlconn.DriverPostgres: "postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=5",
			sqlconn.DriverMySQL:    "root@tcp(" + addr + ")/test?timeout=5s",
		} {
			_, err := sqlconn.Open(context.Background(), connector.OpenParams{System: "erp", Settings: settingsFor(driver, dsn)})
			require.Error(t, err, driver)
			require.True(t, connector.IsTransient(err), "%s: %v", driver, err)
		}
	})
}

func settingsFor(driver, dsn string) map[string]any {
	return map[string]any{
		"driver": driver, "dsn": dsn,
		"entities": map[string]any{
			"account": map[string]any{"table": "customers", "id": "id", "updated_at": "updated_at", "link": "crm_id", "fields": map[string]any{"name": "name"}},
		},
	}
}
