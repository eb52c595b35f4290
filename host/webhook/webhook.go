// Package webhook signs and verifies the result deliveries SoccerPredict
// posts to a job's callback_url. A receiver written in Go imports it to
// check a delivery; in any other language the check is a few lines:
//
//	header:    SoccerPredict-Signature: t=1764640000,v1=5d41402abc4b2a76b9719d911017c592...
//	message:   the t value, a full stop, then the raw request body
//	signature: lowercase hex of HMAC-SHA256(secret, message)
//
// Compare the signature in constant time and refuse a t older than a few
// minutes, so a captured delivery cannot be replayed later.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>".
	SignatureHeader = "SoccerPredict-Signature"
	// JobHeader names the job the delivery is about.
	JobHeader = "SoccerPredict-Job"
	// AttemptHeader counts the deliveries of this job's result, from 1: a
	// receiver that already handled the job can answer 2xx and do nothing.
	AttemptHeader = "SoccerPredict-Attempt"
)

// DefaultTolerance is how old a signature Verify accepts by default.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: no " + SignatureHeader + " header, or it has no t= and v1= parts")
	ErrBadSignature = errors.New("webhook: the signature does not match the body (wrong secret, or the body was changed)")
	ErrExpired      = errors.New("webhook: the signature's timestamp is outside the tolerance (a replay, or a clock far off)")
)

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery: header is the SignatureHeader value, body the
// raw request body, now the receiver's clock, and tolerance how far the
// signature's timestamp may be from now (0 means DefaultTolerance). Several
// v1 parts (during a secret rotation) pass if any one matches.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed %s, now %s", ErrExpired, time.Unix(sec, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
