package odoorpc

import "encoding/json"

// Command is one x2many write command, Odoo's triple (code, id, value). Build
// it with Create, Update, Delete, Unlink, Link, Clear or Set and put a list of
// them in Values: Values{"order_line": []Command{Create(Values{...})}}.
type Command struct {
	Code  int
	ID    int64
	Value any
}

// MarshalJSON encodes the command as [code, id, value].
func (c Command) MarshalJSON() ([]byte, error) {
	v := c.Value
	if v == nil {
		v = 0
	}
	return json.Marshal([]any{c.Code, c.ID, encodeValue(v)})
}

// Create adds a new record built from vals: (0, 0, vals).
func Create(vals Values) Command { return Command{Code: 0, Value: vals} }

// Update writes vals on the linked record id: (1, id, vals).
func Update(id int64, vals Values) Command { return Command{Code: 1, ID: id, Value: vals} }

// Delete removes the linked record id and deletes it: (2, id, 0).
func Delete(id int64) Command { return Command{Code: 2, ID: id} }

// Unlink removes the link to id without deleting the record: (3, id, 0).
func Unlink(id int64) Command { return Command{Code: 3, ID: id} }

// Link adds a link to the existing record id: (4, id, 0).
func Link(id int64) Command { return Command{Code: 4, ID: id} }

// Clear removes all links (records are kept): (5, 0, 0).
func Clear() Command { return Command{Code: 5} }

// Set replaces all links with ids: (6, 0, ids).
func Set(ids ...int64) Command {
	if ids == nil {
		ids = []int64{}
	}
	return Command{Code: 6, Value: ids}
}
