package sqlconn

// WithoutReturning makes c write as it does on MySQL, which has no INSERT ...
// RETURNING: new ids are read back by link key. The MariaDB the tests use
// has RETURNING, so this is how that path is tested.
func WithoutReturning(c *Conn) {
	d := *c.d
	d.returning = false
	c.d = &d
}

// HasReturning reports whether c inserts with RETURNING.
func HasReturning(c *Conn) bool { return c.d.returning }

// MariaDBReturning is mariaDBReturning, for its table test.
var MariaDBReturning = mariaDBReturning
