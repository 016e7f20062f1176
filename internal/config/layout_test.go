package config_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

// TestDocs_Layout keeps one config layout across every page: each yaml block in
// README.md, docs/ and examples/ that shows a part of the config file has that
// part in the shape Load reads (systems and flows are lists of entries, a system
// entry has a name and a connector, entities is a mapping).
func TestDocs_Layout(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	var pages []string
	for _, dir := range []string{"docs", "examples"} {
		require.NoError(t, filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".yaml")) {
				pages = append(pages, path)
			}
			return err
		}))
	}
	pages = append(pages, filepath.Join(root, "README.md"))
	checked := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		blocks := []string{string(data)}
		if strings.HasSuffix(page, ".md") {
			blocks = yamlBlocks(string(data))
		}
		for i, block := range blocks {
			var doc map[string]any
			if yaml.Unmarshal([]byte(block), &doc) != nil || doc == nil {
				continue // a fragment (one field's settings, a list item)
			}
			where := page
			if strings.HasSuffix(page, ".md") {
				where = fmt.Sprintf("%s yaml block %d", page, i+1)
			}
			if v, ok := doc["systems"]; ok {
				checked++
				list, isList := v.([]any)
				require.True(t, isList, "%s: systems must be a list of entries (- name: crm), not a mapping", where)
				for _, item := range list {
					entry, _ := item.(map[string]any)
					require.NotEmpty(t, entry["name"], "%s: a system entry has a name", where)
					require.NotEmpty(t, entry["connector"], "%s: a system entry has a connector", where)
				}
			}
			if v, ok := doc["flows"]; ok {
				checked++
				_, isList := v.([]any)
				require.True(t, isList, "%s: flows must be a list of entries", where)
			}
			if v, ok := doc["entities"]; ok && doc["systems"] != nil {
				_, isMap := v.(map[string]any)
				require.True(t, isMap, "%s: entities must be a mapping", where)
			}
		}
	}
	require.Greater(t, checked, 5, "the test found the config examples")
}

func yamlBlocks(doc string) []string {
	const fence = "```yaml\n"
	var out []string
	for rest := doc; ; {
		i := strings.Index(rest, fence)
		if i < 0 {
			return out
		}
		rest = rest[i+len(fence):]
		end := strings.Index(rest, "```")
		if end < 0 {
			return out
		}
		out = append(out, rest[:end])
		rest = rest[end:]
	}
}
