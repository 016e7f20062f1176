package engine

import (
	"log/slog"
	"strings"
)

// ReverseSuffix ends the name of a two-way flow's second leg: "<flow>:reverse".
const ReverseSuffix = ":reverse"

// Directions of a leg, as logs and metrics name them.
const (
	Forward = "forward"
	Reverse = "reverse"
)

// FlowOf splits a leg's name into the names users see in logs, metrics and
// the docs: the flow, and its direction (Forward, or Reverse for the second
// leg of a two-way flow).
func FlowOf(leg string) (flow, direction string) {
	if f, ok := strings.CutSuffix(leg, ReverseSuffix); ok {
		return f, Reverse
	}
	return leg, Forward
}

// FlowAttr is a leg's name as log attributes: flow=<flow> direction=forward or
// reverse (an inlined group, so it stands in one argument of a log call).
func FlowAttr(leg string) slog.Attr {
	f, d := FlowOf(leg)
	return slog.Group("", slog.String("flow", f), slog.String("direction", d))
}
