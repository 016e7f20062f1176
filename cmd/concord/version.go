package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by release builds (Dockerfile, .goreleaser.yaml):
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123 -X main.date=2026-01-02T03:04:05Z"
//
// When unset, versionInfo takes what the go command stamped into the binary.
var (
	version string
	commit  string
	date    string
)

// buildInfo is what concord version prints.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Date     string `json:"date"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// versionInfo is the binary's version: the -ldflags values where set, else
// what the go command stamped into it (runtime/debug.ReadBuildInfo).
func versionInfo() buildInfo {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(info, version, commit, date)
}

// versionFrom combines the go command's stamp with the -ldflags values, which
// win where set. go install module@vX.Y.Z stamps the module version; go build
// in a git checkout (not a git worktree: the go command stamps nothing there)
// stamps the revision, its time and whether the tree was modified.
func versionFrom(info *debug.BuildInfo, ldVersion, ldCommit, ldDate string) buildInfo {
	bi := buildInfo{Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info != nil {
		bi.Version = info.Main.Version
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Commit = s.Value
			case "vcs.time":
				bi.Date = s.Value
			case "vcs.modified":
				bi.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		bi.Version = ldVersion
	}
	if ldCommit != "" {
		bi.Commit, bi.Modified = ldCommit, false
	}
	if ldDate != "" {
		bi.Date = ldDate
	}
	if bi.Version == "" || bi.Version == "(devel)" {
		bi.Version = "devel"
	}
	return bi
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print concord's version, commit, build date and Go version",
		Long: `version prints the version of this binary, the commit it was built from, the build
date (or the commit's time), and the Go version and platform. Release builds set them
with -ldflags; otherwise they come from what the go command stamped into the binary
(go install ...@vX.Y.Z: the module version; go build in a git checkout: the commit,
its time, and "modified" when the tree had uncommitted changes). A value the build
did not record is "unknown". --json prints them as one JSON object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), versionInfo(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printVersion(w io.Writer, bi buildInfo, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(bi)
	}
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	c := unknown(bi.Commit)
	if bi.Modified {
		c += " (modified)"
	}
	_, err := fmt.Fprintf(w, "concord %s\n  commit  %s\n  date    %s\n  go      %s %s\n",
		bi.Version, c, unknown(bi.Date), bi.Go, bi.Platform)
	return err
}
