package config_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/connector"
)

func ExampleParse() {
	reg := connector.NewRegistry()
	reg.Register(connector.Spec{
		Name: "sql",
		Open: func(context.Context, connector.OpenParams) (connector.Connector, error) {
			return nil, errors.New("example")
		},
	})
	data := []byte(`version: 1
systems:
  - {name: crm, connector: sql}
  - {name: erp, connector: sql, settings: {password: hunter2}}
entities:
  account:
    fields:
      name: {owner: crm}
      credit_limit: {owner: erp}
flows:
  - name: customers
    source: crm
    target: erp
    entity: account
    fields: [name, credit_limit]
`)
	_, err := config.Parse("concord.yaml", data, reg, nil)
	fmt.Println(err)
	// Output:
	// concord.yaml:1:1: missing owner: name the person who owns this integration (owner: jane.doe@example.com); an integration without an owner rots quietly
	// concord.yaml:4:54: inline secret in system erp settings.password; use env:NAME or file:PATH
	// concord.yaml:15:20: flow customers writes account.credit_limit into erp, which owns it
}
