package hubspot

import "time"

// RateLimitWaits returns how many requests to the portal its rate limiters
// (the general one and the search one) held back, and how long they waited in
// all, since the limiters were created. The limiters are shared by every
// connection to the same portal in this process, so two systems naming one
// portal report the same numbers. It is safe for concurrent use.
func (c *Conn) RateLimitWaits() (int64, time.Duration) {
	st := c.api.Limiter().Stats()
	waits, waited := st.Waits, st.Waited
	if s := c.api.SearchLimiter(); s != nil {
		ss := s.Stats()
		waits += ss.Waits
		waited += ss.Waited
	}
	return waits, waited
}
