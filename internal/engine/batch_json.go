package engine

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/concord-sync/concord/internal/model"
)

// MarshalJSON encodes b as encoding/json would (the field tags of Batch), by hand:
// every batch is encoded once on its way into the queue.
func (b Batch) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 64+256*len(b.Records))
	out = append(out, `{"leg":`...)
	out = model.AppendJSONString(out, b.Leg)
	out = append(out, `,"records":`...)
	if b.Records == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '[')
		for i, r := range b.Records {
			if i > 0 {
				out = append(out, ',')
			}
			out = r.AppendJSON(out)
		}
		out = append(out, ']')
	}
	out = append(out, `,"attempt":`...)
	out = strconv.AppendInt(out, int64(b.Attempt), 10)
	if b.Force {
		out = append(out, `,"force":true`...)
	}
	if b.ReplayOf != 0 {
		out = append(out, `,"replay_of":`...)
		out = strconv.AppendInt(out, b.ReplayOf, 10)
	}
	if b.Live {
		out = append(out, `,"live":true`...)
	}
	if len(b.Fetch) > 0 {
		out = append(out, `,"fetch":[`...)
		for i, id := range b.Fetch {
			if i > 0 {
				out = append(out, ',')
			}
			out = model.AppendJSONString(out, id)
		}
		out = append(out, ']')
	}
	if b.Pull {
		out = append(out, `,"pull":true`...)
	}
	if b.Wake {
		out = append(out, `,"wake":true`...)
	}
	if b.Resync {
		out = append(out, `,"resync":true`...)
	}
	if len(b.Status) > 0 {
		st, err := json.Marshal(b.Status)
		if err != nil {
			return nil, fmt.Errorf("encode batch statuses: %w", err)
		}
		out = append(out, `,"status":`...)
		out = append(out, st...)
	}
	if len(b.Set) > 0 {
		// Rare (a corrected dead letter): encoding/json does it.
		set, err := json.Marshal(b.Set)
		if err != nil {
			return nil, fmt.Errorf("encode batch overrides: %w", err)
		}
		out = append(out, `,"set":`...)
		out = append(out, set...)
	}
	return append(out, '}'), nil
}
