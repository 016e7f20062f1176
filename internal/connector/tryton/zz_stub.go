package tryton

func orderDef() *entityDef   { return nil }
func invoiceDef() *entityDef { return nil }
