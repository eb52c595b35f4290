package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func TestSignAndVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"job_id":"abc","status":"succeeded"}`)
	at := time.Unix(1764640000, 0)
	h := Sign(secret, at, body)
	// The documented recipe, computed independently.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("1764640000." + string(body)))
	if want := "t=1764640000,v1=" + hex.EncodeToString(m.Sum(nil)); h != want {
		t.Fatalf("Sign = %s, want %s", h, want)
	}
	if err := Verify(secret, h, body, at.Add(time.Minute), 0); err != nil {
		t.Fatalf("a fresh delivery: %v", err)
	}
	for name, c := range map[string]struct {
		secret, body []byte
		header       string
		now          time.Time
		want         error
	}{
		"other secret":    {[]byte("other"), body, h, at, ErrBadSignature},
		"changed body":    {secret, []byte(`{"job_id":"abc","status":"failed"}`), h, at, ErrBadSignature},
		"replayed later":  {secret, body, h, at.Add(time.Hour), ErrExpired},
		"from the future": {secret, body, h, at.Add(-time.Hour), ErrExpired},
		"no header":       {secret, body, "", at, ErrNoSignature},
		"no v1":           {secret, body, "t=1764640000", at, ErrNoSignature},
		"no t":            {secret, body, "v1=00", at, ErrNoSignature},
	} {
		if err := Verify(c.secret, c.header, c.body, c.now, 0); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// During a rotation a sender may sign with both secrets.
	rotated := Sign([]byte("old"), at, body) + ",v1=" + Sign(secret, at, body)[len("t=1764640000,v1="):]
	if err := Verify(secret, rotated, body, at, 0); err != nil {
		t.Fatalf("two v1 parts, one matching: %v", err)
	}
}
