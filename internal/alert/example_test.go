package alert_test

import (
	"context"
	"fmt"
	"time"

	"github.com/concord-sync/concord/internal/alert"
	"github.com/concord-sync/concord/internal/config"
	"github.com/concord-sync/concord/internal/health"
)

// printer is a Notifier that prints each notice's title.
type printer struct{}

func (printer) Channel() string { return "print" }

func (printer) Notify(_ context.Context, n alert.Notice) error {
	fmt.Println(n.Title())
	return nil
}

func ExampleEvaluator() {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e := alert.New(alert.Params{
		Config: config.DefaultAlerts(), Notifiers: []alert.Notifier{printer{}},
		Now: func() time.Time { return now },
	})
	down := health.Snapshot{Store: health.Store{Writable: true}, Systems: []health.System{{Name: "erp", Reachable: false}}}
	up := health.Snapshot{Store: health.Store{Writable: true}, Systems: []health.System{{Name: "erp", Reachable: true}}}

	e.Evaluate(context.Background(), down) // first seen down
	now = now.Add(5 * time.Minute)
	e.Evaluate(context.Background(), down) // fires
	now = now.Add(time.Hour)
	e.Evaluate(context.Background(), down) // lasts: nothing before alerts.repeat
	now = now.Add(4 * time.Hour)
	e.Evaluate(context.Background(), down) // repeats
	e.Evaluate(context.Background(), up)   // resolved
	// Output:
	// [concord] FIRING unreachable: system erp
	// [concord] STILL FIRING unreachable: system erp
	// [concord] RESOLVED unreachable: system erp
}
