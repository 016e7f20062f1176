// Package model defines Concord's canonical records: the entities both sides of an
// integration share (account, contact, product, deal, order, order_line, invoice,
// payment), their typed fields and exact money values.
//
// Connectors translate native records to and from this model; the engine only ever
// sees canonical records. Money is a decimal with an ISO 4217 currency, never a float.
package model
