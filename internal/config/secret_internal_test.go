package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHasInlinePassword(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want bool
	}{
		// URLs.
		{"postgres://crm:hunter2@db.example.com/crm", true},
		{"postgres://:hunter2@db/crm", true},
		{"postgres://crm:p@ss@db/crm", true},
		{"postgres://crm:pa/ss@db/crm", true},
		{"postgres://crm:p@s/s@db:5432/crm?sslmode=disable", true},
		{"postgres://crm@db/crm", false},
		{"postgres://crm:@db/crm", false},
		{"postgres://db/crm?sslmode=disable", false},
		{"https://api.example.com/v1/search?q=a:b@c", false},
		{"postgres://crm@db/crm?sslmode=disable&password=hunter2", true},
		// go-sql-driver/mysql DSNs.
		{"crm:hunter2@tcp(db:3306)/crm", true},
		{"crm:hunter2@/crm", true},
		{"crm:hunter2@tcp/crm", true},
		{"crm:hun/ter2@tcp(db:3306)/crm", true},
		{"crm:hun@ter2@tcp(db:3306)/crm", true},
		{"crm:h/@/@x@tcp(db:3306)/crm?parseTime=true", true},
		{"crm:p@ss/w@rd@unix(/run/mysqld/mysqld.sock)/crm", true},
		{"crm:pass word@tcp(db)/crm", true},
		{"root@tcp(127.0.0.1:3306)/test", false},
		{"root:@tcp(127.0.0.1:3306)/test", false},
		{"root@unix(/run/mysqld/mysqld.sock)/test", false},
		// key=value forms.
		{"host=db user=crm password=hunter2", true},
		{"Server=db;Uid=crm;Pwd=hunter2;", true},
		{"host=db user=crm", false},
		// Not connection strings.
		{"file:crm.db?mode=ro", false},
		{"/var/lib/concord/crm.db", false},
		{"crm.db", false},
		{"a note: see user@example.com/page", false},
		{"jane.doe@example.com", false},
		{"C:/data/crm.db", false},
	} {
		require.Equal(t, tc.want, hasInlinePassword(tc.in), "%q", tc.in)
	}
}
