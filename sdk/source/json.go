package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/soccerpredict/soccerpredict/sdk/plugin"
)

// EachJSON reads a file holding a JSON list one element at a time (the file
// is never held whole), calling fn with each element decoded into a T and
// where it is ("name[3]", to use as the match's Origin). An element that does
// not decode into a T, or for which fn returns an error, is sent to out as a
// Reject at that index with the error as its message. When the list is read
// the file goes to out with its SHA-256 and its number of elements.
//
// A file that is not a JSON list at all is an error (plugin.ErrInvalid); so is
// ctx ending.
func EachJSON[T any](ctx context.Context, name string, out Sink, fn func(at string, v T) error) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	dec := json.NewDecoder(io.TeeReader(f, h))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return plugin.Invalid("%s is not a JSON list", name)
	}
	n := 0
	for ; dec.More(); n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return plugin.Invalid("%s: element %d: %v", name, n, err)
		}
		var v T
		err := json.Unmarshal(raw, &v)
		if err == nil {
			err = fn(name+"["+strconv.Itoa(n)+"]", v)
		}
		if err != nil {
			out.Reject(Reject{File: name, Location: "[" + strconv.Itoa(n) + "]", Message: err.Error(), Raw: string(raw)})
		}
	}
	if _, err := dec.Token(); err != nil {
		return plugin.Invalid("%s: the list does not end: %v", name, err)
	}
	if _, err := io.Copy(h, f); err != nil { // the digest covers the whole file
		return fmt.Errorf("read %s: %w", name, err)
	}
	out.File(File{Name: name, SHA256: hex.EncodeToString(h.Sum(nil)), Rows: n})
	return ctx.Err()
}
