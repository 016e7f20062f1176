package metrics_test

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/concord-sync/concord/internal/metrics"
)

// TestBuildInfo_Given: a release's version and revision label
// concord_build_info; without them the binary's build info does.
func TestBuildInfo_Given(t *testing.T) {
	t.Parallel()
	labels := func(o metrics.Options) map[string]string {
		fams, err := metrics.New(o).Registry().Gather()
		require.NoError(t, err)
		for _, f := range fams {
			if f.GetName() == "concord_build_info" {
				out := map[string]string{}
				for _, lp := range f.GetMetric()[0].GetLabel() {
					out[lp.GetName()] = lp.GetValue()
				}
				return out
			}
		}
		t.Fatal("no concord_build_info")
		return nil
	}
	require.Equal(t, map[string]string{"version": "v9.8.7", "revision": "0123abc", "goversion": runtime.Version()},
		labels(metrics.Options{Version: "v9.8.7", Revision: "0123abc"}))
	version, revision, goVersion := metrics.BuildInfo()
	require.Equal(t, map[string]string{"version": version, "revision": revision, "goversion": goVersion},
		labels(metrics.Options{}))
}
