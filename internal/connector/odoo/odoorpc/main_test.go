package odoorpc_test

import (
	"testing"

	"github.com/concord-sync/concord/internal/connector/odoo/odootest"
)

func TestMain(m *testing.M) { odootest.Main(m, 2) }
