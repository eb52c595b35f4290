package source_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

type pair struct {
	A string `json:"a"`
	N int    `json:"n"`
}

func TestEachJSON(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "list.json")
	body := `[{"a": "x", "n": 1}, {"a": 3}, {"a": "", "n": 2}, {"a": "y", "n": 4}]` + "\n"
	os.WriteFile(name, []byte(body), 0o644)
	var got []string
	var out source.FetchResponse
	err := source.EachJSON(context.Background(), name, &out, func(at string, p pair) error {
		if p.A == "" {
			return plugin.Invalid("a is required")
		}
		got = append(got, at+"="+p.A)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != name+"[0]=x,"+name+"[3]=y" {
		t.Fatalf("elements: %v", got)
	}
	if len(out.Rejects) != 2 || out.Rejects[0].Location != "[1]" || !strings.Contains(out.Rejects[0].Message, "string") ||
		out.Rejects[1].Location != "[2]" || out.Rejects[1].Message != "a is required" || out.Rejects[1].Raw != `{"a": "", "n": 2}` {
		t.Fatalf("rejects: %+v", out.Rejects)
	}
	sum := sha256.Sum256([]byte(body))
	if len(out.Files) != 1 || out.Files[0].SHA256 != hex.EncodeToString(sum[:]) || out.Files[0].Rows != 4 {
		t.Fatalf("file: %+v", out.Files)
	}
	if s := out.Rejects[0].Error(); s != name+": [1]: "+out.Rejects[0].Message {
		t.Fatalf("reject error %q", s)
	}

	for _, bad := range []string{`{"a": 1}`, `[{"a": "x"}`, ``} {
		os.WriteFile(name, []byte(bad), 0o644)
		err := source.EachJSON(context.Background(), name, &source.FetchResponse{}, func(string, pair) error { return nil })
		if !errors.Is(err, plugin.ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", bad, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	os.WriteFile(name, []byte(body), 0o644)
	if err := source.EachJSON(ctx, name, &source.FetchResponse{}, func(string, pair) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
