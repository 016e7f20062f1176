// Package webhookload drives a webhook receiver with signed HubSpot-style
// deliveries at a fixed rate and measures how fast each is acknowledged: the
// load tool behind `concord bench webhook` and the bench's webhook scenario.
//
// Deliveries are sent open-loop: delivery i is due at start + i/rate whatever
// became of the earlier ones, each on its own goroutine, and its latency is
// counted from when it was due (so a receiver that falls behind shows its
// backlog in the figures instead of slowing the sender down).
package webhookload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/concord-sync/concord/internal/connector/hubspot"
)

// Config says what to send.
type Config struct {
	// URL is the receiver's full address, such as
	// http://127.0.0.1:8088/webhooks/hubspot; it is also the URI signed.
	URL string
	// Secret is the HubSpot app's client secret the receiver verifies with.
	Secret string
	// Rate is deliveries per second (default 500).
	Rate int
	// Duration is how long deliveries are sent (default 60 s).
	Duration time.Duration
	// Records is how many distinct records the deliveries are about, objectId
	// FirstID to FirstID+Records-1 taken in turn (default 100). IDs, when set,
	// replaces them.
	Records int
	FirstID int64
	IDs     []int64
	// Events is the number of events per delivery (default 1), each about the
	// next record.
	Events int
	// Object is the HubSpot object type in subscriptionType, singular
	// (default "company").
	Object string
	// Timeout bounds one delivery; a delivery not answered in time is an
	// error (default 10 s).
	Timeout time.Duration
	// MaxInFlight bounds the deliveries waiting for their answer; a delivery
	// due while that many wait is not sent and counted as an error (default 2000).
	MaxInFlight int
	// Client sends the requests; nil uses a client keeping up to MaxInFlight
	// connections alive.
	Client *http.Client
}

// Result is what a run measured.
type Result struct {
	// Sent counts the deliveries sent, OK those answered 2xx, Errors the rest
	// (non-2xx, transport errors, timeouts, not sent because MaxInFlight were
	// waiting); ErrorKinds counts them by kind ("503", "timeout", ...).
	Sent, OK, Errors int
	ErrorKinds       map[string]int
	// Events counts the events sent, Records the distinct records they name.
	Events, Records int
	// Elapsed is from the first delivery's due time to the last answer.
	Elapsed time.Duration
	// Acknowledgement latency of the 2xx answers, from each delivery's due time.
	P50, P90, P99, Max time.Duration
}

// Rate is the deliveries answered 2xx per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// String is the one-line summary the command prints.
func (r Result) String() string {
	return fmt.Sprintf("sent %d deliveries (%d events about %d records) in %s: %d ok, %d errors%s; ack latency p50 %s p90 %s p99 %s max %s",
		r.Sent, r.Events, r.Records, r.Elapsed.Round(time.Millisecond), r.OK, r.Errors, kinds(r.ErrorKinds),
		ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
}

func kinds(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.WriteString(" (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", k, m[k])
	}
	b.WriteString(")")
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func (c Config) withDefaults() Config {
	if c.Rate <= 0 {
		c.Rate = 500
	}
	if c.Duration <= 0 {
		c.Duration = 60 * time.Second
	}
	if c.Records <= 0 {
		c.Records = 100
	}
	if c.FirstID <= 0 {
		c.FirstID = 1
	}
	if c.Events <= 0 {
		c.Events = 1
	}
	if c.Object == "" {
		c.Object = "company"
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 2000
	}
	return c
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("no URL"))
	}
	if c.Secret == "" {
		errs = append(errs, errors.New("no secret"))
	}
	if c.Rate < 0 || c.Records < 0 || c.Events < 0 || c.Duration < 0 {
		errs = append(errs, errors.New("rate, records, events and duration must not be negative"))
	}
	return errors.Join(errs...)
}

// event is one HubSpot webhook event (legacy format).
type event struct {
	EventID          int64  `json:"eventId"`
	SubscriptionID   int64  `json:"subscriptionId"`
	PortalID         int64  `json:"portalId"`
	AppID            int64  `json:"appId"`
	OccurredAt       int64  `json:"occurredAt"`
	SubscriptionType string `json:"subscriptionType"`
	AttemptNumber    int    `json:"attemptNumber"`
	ObjectID         int64  `json:"objectId"`
	PropertyName     string `json:"propertyName"`
	PropertyValue    string `json:"propertyValue"`
	ChangeSource     string `json:"changeSource"`
}

// Body returns the body of delivery n of a run whose event ids start at
// firstEvent: events about the records after n*events in turn.
func (c Config) body(n int, firstEvent int64, at time.Time) []byte {
	evs := make([]event, c.Events)
	for i := range evs {
		k := n*c.Events + i
		id := c.FirstID + int64(k%c.Records)
		if len(c.IDs) > 0 {
			id = c.IDs[k%len(c.IDs)]
		}
		evs[i] = event{EventID: firstEvent + int64(k), SubscriptionID: 1, PortalID: 1, AppID: 1, OccurredAt: at.UnixMilli(),
			SubscriptionType: c.Object + ".propertyChange", ObjectID: id, PropertyName: "name",
			PropertyValue: "load " + strconv.Itoa(k), ChangeSource: "CRM_UI"}
	}
	b, _ := json.Marshal(evs) // plain fields: cannot fail
	return b
}

// Run sends cfg.Rate deliveries per second for cfg.Duration and waits for
// every answer (or its timeout). It returns an error only for a bad Config or
// when ctx ends before the run does; refused or failed deliveries are counted
// in the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, fmt.Errorf("webhook load: %w", err)
	}
	cfg = cfg.withDefaults()
	if len(cfg.IDs) > 0 {
		cfg.Records = len(cfg.IDs)
	}
	client := cfg.Client
	if client == nil {
		tr := &http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        cfg.MaxInFlight,
			MaxIdleConnsPerHost: cfg.MaxInFlight,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	total := int(int64(cfg.Rate) * int64(cfg.Duration) / int64(time.Second))
	interval := time.Second / time.Duration(cfg.Rate)
	firstEvent := time.Now().UnixMicro() // a new run never repeats an earlier run's events

	var (
		mu        sync.Mutex
		lat       = make([]time.Duration, 0, total)
		errs      = map[string]int{}
		lastDone  time.Time
		wg        sync.WaitGroup
		inFlight  = make(chan struct{}, cfg.MaxInFlight)
		sent      int
		ctxFailed error
	)
	fail := func(kind string) {
		mu.Lock()
		errs[kind]++
		mu.Unlock()
	}
	start := time.Now()
	for n := range total {
		due := start.Add(time.Duration(n) * interval)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			ctxFailed = ctx.Err()
			break
		}
		sent++
		select {
		case inFlight <- struct{}{}:
		default:
			fail("not sent: too many waiting")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-inFlight }()
			kind := cfg.send(ctx, client, cfg.body(n, firstEvent, due))
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if now.After(lastDone) {
				lastDone = now
			}
			if kind != "" {
				errs[kind]++
				return
			}
			lat = append(lat, now.Sub(due))
		}()
	}
	wg.Wait()
	if ctxFailed != nil {
		return Result{}, fmt.Errorf("webhook load: %w", ctxFailed)
	}
	res := Result{Sent: sent, OK: len(lat), ErrorKinds: errs, Events: sent * cfg.Events, Records: min(cfg.Records, sent*cfg.Events)}
	for _, n := range errs {
		res.Errors += n
	}
	if !lastDone.IsZero() {
		res.Elapsed = lastDone.Sub(start)
	}
	slices.Sort(lat)
	res.P50, res.P90, res.P99 = Percentile(lat, 50), Percentile(lat, 90), Percentile(lat, 99)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res, nil
}

// Percentile returns the p-th percentile (nearest rank) of sorted, 0 when
// it is empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// send posts one signed delivery and returns "" on a 2xx answer, else the kind
// of failure.
func (c Config) send(ctx context.Context, client *http.Client, body []byte) string {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return "bad request: " + err.Error()
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(hubspot.HeaderTimestamp, ts)
	req.Header.Set(hubspot.HeaderSignatureV3, hubspot.SignV3(c.Secret, http.MethodPost, c.URL, body, ts))
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "timeout"
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "transport"
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return strconv.Itoa(resp.StatusCode)
	}
	return ""
}
