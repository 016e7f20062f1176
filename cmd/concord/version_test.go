package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func versionJSON(t *testing.T, bin string) buildInfo {
	t.Helper()
	out, err := exec.Command(bin, "version", "--json").Output()
	require.NoError(t, err)
	var bi buildInfo
	require.NoError(t, json.Unmarshal(out, &bi), "%s", out)
	return bi
}

// TestVersion_LDFlags: a release build's -X values are what version prints.
func TestVersion_LDFlags(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "concord")
	// Only the main package and the link differ from a plain go build: the
	// other packages come from the build cache.
	out, err := exec.Command("go", "build", "-buildvcs=false", "-o", bin,
		"-ldflags", "-X main.version=v9.8.7 -X main.commit=0123abc -X main.date=2026-01-02T03:04:05Z", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)

	bi := versionJSON(t, bin)
	require.Equal(t, buildInfo{Version: "v9.8.7", Commit: "0123abc", Date: "2026-01-02T03:04:05Z",
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}, bi)

	text, err := exec.Command(bin, "version").Output()
	require.NoError(t, err)
	require.Equal(t, "concord v9.8.7\n  commit  0123abc\n  date    2026-01-02T03:04:05Z\n  go      "+
		runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n", string(text))
}

// TestVersion_BuildInfo: without -ldflags, version prints what the go
// command stamped. In a git clone (CI) that is the commit and whether the tree
// was modified; in a git worktree (.git is a file) the go command stamps
// nothing, and version says so.
func TestVersion_BuildInfo(t *testing.T) {
	t.Parallel()
	// -buildvcs=true: GOFLAGS may turn the stamp off (go env GOFLAGS).
	bin := filepath.Join(t.TempDir(), "concord")
	out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	bi := versionJSON(t, bin)
	require.Equal(t, runtime.Version(), bi.Go)

	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	require.NoError(t, err, "this test reads the checkout with git")
	if st, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err == nil && !st.IsDir() {
		require.Equal(t, buildInfo{Version: "devel", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}, bi, "a git worktree: no stamp")
		return
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	status, err := exec.Command("git", "status", "--porcelain").Output()
	require.NoError(t, err)
	rev := strings.TrimSpace(string(head))
	require.Equal(t, rev, bi.Commit)
	require.Equal(t, len(status) > 0, bi.Modified)
	require.NotEmpty(t, bi.Date)
	// The module's version derived from the commit: a pseudo-version
	// (v0.0.0-20260102030405-0123456789ab) or a tag.
	require.Contains(t, bi.Version, rev[:12])
}

// TestVersion_From: the go command's stamp, and -ldflags values over it.
func TestVersion_From(t *testing.T) {
	t.Parallel()
	info := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260102030405-0123456789ab"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	bi := versionFrom(info, "", "", "")
	require.Equal(t, "v0.0.0-20260102030405-0123456789ab", bi.Version)
	require.Equal(t, "0123456789abcdef", bi.Commit)
	require.Equal(t, "2026-01-02T03:04:05Z", bi.Date)
	require.True(t, bi.Modified)

	bi = versionFrom(info, "v1.2.3", "fedcba", "2026-02-03T00:00:00Z")
	require.Equal(t, "v1.2.3", bi.Version)
	require.Equal(t, "fedcba", bi.Commit)
	require.Equal(t, "2026-02-03T00:00:00Z", bi.Date)
	require.False(t, bi.Modified)

	require.Equal(t, "devel", versionFrom(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "", "").Version)
	require.Equal(t, "devel", versionFrom(nil, "", "", "").Version)
	require.Equal(t, "v1.0.0", versionFrom(&debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}}, "", "", "").Version, "go install ...@v1.0.0")

	text, code := run(t, "version")
	require.Equal(t, exitOK, code, text)
	require.True(t, strings.HasPrefix(text, "concord "), text)
	require.Contains(t, text, "  go      "+runtime.Version())
}

// TestVersion_NoStamp: a binary without -ldflags or VCS stamp says so.
func TestVersion_NoStamp(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	require.NoError(t, printVersion(&b, buildInfo{Version: "devel", Go: "go1.26.8", Platform: "linux/arm64"}, false))
	require.Equal(t, "concord devel\n  commit  unknown\n  date    unknown\n  go      go1.26.8 linux/arm64\n", b.String())
	b.Reset()
	require.NoError(t, printVersion(&b, buildInfo{Version: "v1.0.0", Commit: "abc", Modified: true, Date: "d", Go: "g", Platform: "p"}, false))
	require.Contains(t, b.String(), "  commit  abc (modified)\n")
}

// TestCompletion_Bash: the completion script names the subcommands.
func TestCompletion_Bash(t *testing.T) {
	t.Parallel()
	out, code := run(t, "completion", "bash")
	require.Equal(t, exitOK, code, out)
	require.Contains(t, out, "# bash completion V2 for concord")
	require.Contains(t, out, "__start_concord")
	// Bash completion V2 asks the binary (concord __complete ...) for the words;
	// what it answers for the first word is the subcommand list.
	words, code := run(t, "__complete", "")
	require.Equal(t, exitOK, code, words)
	for _, c := range []string{"serve", "sync", "version", "demo", "completion"} {
		require.Contains(t, words, "\n"+c+"\t", "completion lacks %s", c)
	}
}
