// Package apikey guards the API with keys: their scopes, their lookup in
// the store (cached, bounded, and trusted a while when the store is away),
// per-key rate limits, and the middleware every audience's routes share.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/api/httpx"
	"github.com/soccerpredict/soccerpredict/host/internal/forecast"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
)

// Scopes an API key can carry. admin includes predict.
const (
	ScopePredict = "predict"
	ScopeAdmin   = "admin"
)

// NewKey makes a new API key: the secret to hand to its owner once, and the
// record to store (which holds only the secret's SHA-256).
func NewKey(name string, scopes []string, ratePerMinute int) (string, store.APIKey, error) {
	for _, s := range scopes {
		if s != ScopePredict && s != ScopeAdmin {
			return "", store.APIKey{}, fmt.Errorf("scope %q is not %s or %s", s, ScopePredict, ScopeAdmin)
		}
	}
	if ratePerMinute <= 0 {
		return "", store.APIKey{}, errors.New("rate per minute must be positive")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", store.APIKey{}, err
	}
	secret := "sp_" + base64.RawURLEncoding.EncodeToString(b)
	id := make([]byte, 4)
	rand.Read(id)
	return secret, store.APIKey{ID: hex.EncodeToString(id), Name: name, Hash: HashKey(secret), Scopes: scopes, RatePerMinute: ratePerMinute}, nil
}

// HashKey is how keys are stored and looked up.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Auth checks API keys, scopes and per-key rate limits. With Required
// false (the embedded default) every request passes.
type Auth struct {
	Required bool
	Keys     store.Keys
	// CacheFor is how long a looked-up key is trusted before it is looked up
	// again (a revocation takes effect within it); an unknown key is
	// remembered as unknown for as long.
	CacheFor time.Duration
	// LookupTimeout bounds a lookup in the store (default 300 ms): a store
	// that hangs costs a request that long, never seconds.
	LookupTimeout time.Duration
	// StaleFor is how long after it was last verified a key stays accepted
	// while the store cannot answer (default: not at all).
	StaleFor time.Duration
	Logger   hclog.Logger

	mu      sync.Mutex
	cache   map[string]cachedKey // known keys
	unknown map[string]time.Time // keys the store does not have, until when
	buckets map[string]*bucket
	stale   bool // serving verified keys while the store is away (logged once)
}

type cachedKey struct {
	key      store.APIKey
	expires  time.Time
	verified time.Time
}

// keyShape is what NewKey makes: "sp_" and 43 base64url characters. A
// secret of any other shape is refused without asking the store.
func keyShape(secret string) bool {
	if len(secret) != 46 || !strings.HasPrefix(secret, "sp_") {
		return false
	}
	for _, r := range secret[3:] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

type bucket struct {
	tokens float64
	last   time.Time
}

// take spends one request from the key's bucket, or says how long to wait.
func (a *Auth) take(k store.APIKey, now time.Time) (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.buckets == nil {
		a.buckets = map[string]*bucket{}
	}
	capacity, perSecond := float64(k.RatePerMinute), float64(k.RatePerMinute)/60
	b, ok := a.buckets[k.ID]
	if !ok {
		b = &bucket{tokens: capacity, last: now}
		a.buckets[k.ID] = b
	}
	b.tokens = math.Min(capacity, b.tokens+now.Sub(b.last).Seconds()*perSecond)
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// lookup finds the key a secret stands for: from the cache while fresh,
// else from the store under LookupTimeout. An unknown key is remembered as
// unknown for CacheFor, so repeating it costs no query; a key verified
// within StaleFor is still accepted when the store cannot answer.
func (a *Auth) lookup(ctx context.Context, secret string) (store.APIKey, error) {
	if !keyShape(secret) {
		return store.APIKey{}, store.ErrNotFound
	}
	hash := HashKey(secret)
	now := time.Now()
	a.mu.Lock()
	if a.cache == nil {
		a.cache, a.unknown = map[string]cachedKey{}, map[string]time.Time{}
	}
	c, ok := a.cache[hash]
	until, unknown := a.unknown[hash]
	a.mu.Unlock()
	if unknown && now.Before(until) {
		return store.APIKey{}, store.ErrNotFound
	}
	if ok && now.Before(c.expires) {
		return c.key, nil
	}
	timeout := a.LookupTimeout
	if timeout <= 0 {
		timeout = 300 * time.Millisecond
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	k, err := a.Keys.KeyByHash(lctx, hash)
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.mu.Lock()
		if len(a.unknown) >= 100000 { // a flood of made-up keys forgets only unknown ones
			clear(a.unknown)
		}
		a.unknown[hash] = now.Add(a.CacheFor)
		delete(a.cache, hash) // revoked
		a.mu.Unlock()
		return store.APIKey{}, err
	case err != nil && ctx.Err() == nil && ok && now.Sub(c.verified) < a.StaleFor:
		a.mu.Lock()
		first := !a.stale
		a.stale = true
		a.mu.Unlock()
		if first && a.Logger != nil {
			a.Logger.Warn("cannot check API keys in the store; accepting keys verified within auth.stale_for", "stale_for", a.StaleFor, "error", err)
		}
		return c.key, nil
	case err != nil:
		return store.APIKey{}, err
	}
	a.mu.Lock()
	if a.stale && a.Logger != nil {
		a.Logger.Info("API keys are checked in the store again")
	}
	a.stale = false
	a.mu.Unlock()
	a.mu.Lock()
	if len(a.cache) > 10000 {
		clear(a.cache)
	}
	a.cache[hash] = cachedKey{key: k, expires: now.Add(a.CacheFor), verified: now}
	a.mu.Unlock()
	return k, nil
}

// Bearer is the key a request presents: X-API-Key, or an Authorization
// Bearer token.
func Bearer(r *http.Request) string {
	if k := r.Header.Get("X-API-Key"); k != "" {
		return k
	}
	return BearerToken(r.Header.Get("Authorization"))
}

// BearerToken is the token of an Authorization value with the Bearer
// scheme, which is case-insensitive (RFC 9110 §11.1: "bearer" is "Bearer");
// "" for any other.
func BearerToken(h string) string {
	if scheme, token, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	return ""
}

type callerKey struct{}

// Caller is the API key a request was authenticated with (ok false when
// authentication is off).
func Caller(ctx context.Context) (store.APIKey, bool) {
	k, ok := ctx.Value(callerKey{}).(store.APIKey)
	return k, ok
}

// WithCaller is ctx of a request authenticated with k.
func WithCaller(ctx context.Context, k store.APIKey) context.Context {
	return context.WithValue(ctx, callerKey{}, k)
}

// MayRead says whether the request's key may see a resource owned by owner:
// its creator, or any admin key. Without authentication everything is open.
func MayRead(r *http.Request, owner string) bool {
	k, ok := Caller(r.Context())
	return !ok || owner == "" || k.ID == owner || slices.Contains(k.Scopes, ScopeAdmin)
}

// Denial is why a request's key was refused, as an HTTP status (the gRPC
// service maps it to its codes).
type Denial struct {
	Status        int
	Title, Detail string
	RetryAfter    time.Duration
}

// Authorize checks an API key secret for scope and takes one request from
// its rate; it is the one check both the HTTP API and the gRPC service use.
func (a *Auth) Authorize(ctx context.Context, secret, scope string) (store.APIKey, *Denial) {
	if secret == "" {
		return store.APIKey{}, &Denial{Status: http.StatusUnauthorized, Title: "missing API key", Detail: "send it as `Authorization: Bearer <key>` or `X-API-Key: <key>`"}
	}
	k, err := a.lookup(ctx, secret)
	if errors.Is(err, store.ErrNotFound) {
		return store.APIKey{}, &Denial{Status: http.StatusUnauthorized, Title: "invalid API key", Detail: "the key is unknown or revoked"}
	}
	if err != nil {
		if a.Logger != nil {
			a.Logger.Error("look up API key", "error", err)
		}
		return store.APIKey{}, &Denial{Status: http.StatusServiceUnavailable, Title: "temporarily unavailable", Detail: "cannot check the API key right now"}
	}
	if !slices.Contains(k.Scopes, scope) && !slices.Contains(k.Scopes, ScopeAdmin) {
		return store.APIKey{}, &Denial{Status: http.StatusForbidden, Title: "insufficient scope", Detail: fmt.Sprintf("key %s (%s) lacks the %q scope", k.ID, k.Name, scope)}
	}
	if ok, wait := a.take(k, time.Now()); !ok {
		return store.APIKey{}, &Denial{Status: http.StatusTooManyRequests, Title: "rate limit exceeded",
			Detail: fmt.Sprintf("key %s allows %d requests a minute", k.ID, k.RatePerMinute), RetryAfter: wait}
	}
	return k, nil
}

// Require lets a request through with a key holding scope, within its
// rate, and answers the denial's problem otherwise. A nil or not Required
// Auth lets every request through.
func (a *Auth) Require(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if a == nil || !a.Required {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, denied := a.Authorize(r.Context(), Bearer(r), scope)
			if denied != nil {
				switch {
				case denied.Status == http.StatusUnauthorized && denied.Title == "missing API key":
					w.Header().Set("WWW-Authenticate", `Bearer realm="soccerpredict"`)
				case denied.Status == http.StatusUnauthorized:
					w.Header().Set("WWW-Authenticate", `Bearer realm="soccerpredict", error="invalid_token"`)
				case denied.RetryAfter > 0:
					w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(denied.RetryAfter.Seconds()))))
				}
				httpx.WriteProblem(w, r, denied.Status, denied.Title, denied.Detail, nil)
				return
			}
			Heard(r.Context(), k)
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), k)))
		})
	}
}

// Origin tells the forecast log which route served the forecasts made
// under ctx, and for which API key.
func Origin(ctx context.Context, route string) context.Context {
	o := forecast.Origin{Route: route}
	if k, ok := ctx.Value(callerKey{}).(store.APIKey); ok {
		o.KeyID = k.ID
	}
	return forecast.WithOrigin(ctx, o)
}

// Who is the key a request was authenticated with, by name and ID, for
// the access log: never the key itself.
type Who struct{ Name, ID string }

type whoCtx struct{}

// Listening is ctx in which an authenticated key is noted in who.
func Listening(ctx context.Context) (context.Context, *Who) {
	who := &Who{}
	return context.WithValue(ctx, whoCtx{}, who), who
}

// Heard notes k as the key of the request of ctx, if someone listens.
func Heard(ctx context.Context, k store.APIKey) {
	if who, ok := ctx.Value(whoCtx{}).(*Who); ok {
		who.Name, who.ID = k.Name, k.ID
	}
}
