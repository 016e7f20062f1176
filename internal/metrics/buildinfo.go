package metrics

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// buildInfo returns the concord_build_info gauge: always 1, labelled with the
// version and revision given (else the module version, and the VCS revision
// with "-dirty" when the tree had changes) and the Go version the binary was
// built with.
func buildInfo(givenVersion, givenRevision string) prometheus.Collector {
	version, revision, goVersion := BuildInfo()
	if givenVersion != "" {
		version = givenVersion
	}
	if givenRevision != "" {
		revision = givenRevision
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "concord_build_info",
		Help:        "Always 1; labelled with the version, the VCS revision and the Go version of the running binary.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	}, func() float64 { return 1 })
}

// BuildInfo returns the running binary's module version ("(devel)" for a
// build from a work tree), VCS revision ("unknown" when not stamped) and Go
// version.
func BuildInfo() (version, revision, goVersion string) {
	version, revision, goVersion = "unknown", "unknown", runtime.Version()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, revision, goVersion
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && revision != "unknown" {
		revision += "-dirty"
	}
	return version, revision, goVersion
}
