package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/cache"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/webhook"
)

// MaxCallbackURL bounds a callback_url.
const MaxCallbackURL = 2048

// CallbackPolicy says which callback URLs jobs may name: the operator's
// allowed hosts ("host", "host:port", "*.domain"), over http or https.
type CallbackPolicy struct {
	AllowedHosts []string
}

// Check returns what is wrong with a callback URL, in words for the caller,
// or nil if it may be used.
func (p *CallbackPolicy) Check(raw string) error {
	if p == nil || len(p.AllowedHosts) == 0 {
		return errors.New("webhooks are not enabled on this server (the operator sets webhooks.allowed_hosts)")
	}
	if len(raw) > MaxCallbackURL {
		return fmt.Errorf("is longer than %d bytes", MaxCallbackURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an absolute http or https URL")
	case u.User != nil:
		return errors.New("must not carry a user name or password")
	case u.Fragment != "" || u.Opaque != "" || u.Host == "":
		return errors.New("must be an absolute http or https URL with a host and no #fragment")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if n, err := strconv.ParseUint(port, 10, 16); port != "" && (err != nil || n == 0) {
		return fmt.Errorf("has port %q, which is not a number from 1 to 65535", truncateText(port, 20))
	}
	for _, pat := range p.AllowedHosts {
		name, pport, hasPort := strings.Cut(pat, ":")
		if hasPort && pport != port {
			continue
		}
		if suffix, ok := strings.CutPrefix(name, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return nil
			}
		} else if host == name {
			return nil
		}
	}
	return fmt.Errorf("names host %q, which is not among the hosts this server may call back", truncateText(u.Host, 100))
}

// Notifier posts finished jobs to their callback URLs: each delivery is
// signed (webhook.Sign), bounded by Timeout, and recorded on the job; a
// failed one is tried again after Backoff, doubled each time up to
// MaxBackoff, until MaxAttempts. Deliveries run side by side up to
// Concurrency, so a receiver that is down or slow holds its own slots and
// never another job's. Several replicas may run one each: the store hands
// every due callback to one of them at a time.
type Notifier struct {
	Store       CallbackStore
	Cache       cache.Cache
	Logger      hclog.Logger
	Policy      *CallbackPolicy
	Secret      []byte
	MaxAttempts int
	Backoff     time.Duration
	MaxBackoff  time.Duration
	Timeout     time.Duration
	Concurrency int
	// PollInterval is how often the store is asked for due callbacks.
	PollInterval time.Duration
	// Client sends the deliveries (default: one that follows no redirect).
	Client *http.Client
	// UserAgent names the sender (default "soccerpredict-webhook").
	UserAgent string
}

// Run delivers until ctx ends, then waits for the deliveries in flight.
func (n Notifier) Run(ctx context.Context) {
	if n.Client == nil {
		n.Client = &http.Client{
			// A redirect could lead anywhere, past the allowed hosts.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: (&net.Dialer{Timeout: n.Timeout}).DialContext,
				MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true},
		}
	}
	slots := make(chan struct{}, max(n.Concurrency, 1))
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(n.PollInterval)
	defer tick.Stop()
	down := false
	for {
		if free := cap(slots) - len(slots); free > 0 {
			// The lease outlasts a delivery, so no other replica claims
			// one that is still in flight.
			due, err := n.Store.ClaimCallbacks(ctx, time.Now(), 2*n.Timeout+10*time.Second, free)
			switch {
			case err != nil && ctx.Err() == nil && !down:
				n.Logger.Warn("cannot read due webhooks; they wait in the store", "error", err)
				down = true
			case err == nil && down:
				n.Logger.Info("webhooks resumed")
				down = false
			}
			for _, j := range due {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-slots; wg.Done() }()
					n.deliver(ctx, j)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// deliver makes one attempt and records it with what follows.
func (n Notifier) deliver(ctx context.Context, j store.Job) {
	attempt := j.CallbackAttempts + 1
	a := store.CallbackAttempt{Attempt: attempt, At: time.Now().UTC()}
	delivered, giveUp := false, attempt >= n.MaxAttempts
	if err := n.Policy.Check(j.CallbackURL); err != nil {
		// The operator took the host off the list since the job was made.
		a.Error, giveUp = "not sent: the callback URL "+err.Error(), true
	} else {
		a.StatusCode, a.Error = n.post(ctx, j, attempt)
		a.Duration = time.Since(a.At)
		delivered = a.StatusCode >= 200 && a.StatusCode < 300
		if a.StatusCode == http.StatusGone {
			giveUp = true // the receiver says it will never want it
		}
	}
	if ctx.Err() != nil && !delivered {
		return // shutting down: the claim runs out and another process (or the next start) tries again
	}
	var next time.Time
	if !delivered && !giveUp {
		next = time.Now().Add(n.backoff(attempt))
	}
	// Recorded even when ctx ends: the attempt happened.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := n.Store.RecordCallback(rctx, j.ID, a, delivered, next); err != nil {
		n.Logger.Warn("record webhook attempt; it will be tried again", "job", j.ID, "error", err)
		return
	}
	switch {
	case delivered:
		n.Logger.Debug("webhook delivered", "job", j.ID, "attempt", attempt, "status", a.StatusCode)
	case next.IsZero():
		n.Logger.Warn("webhook given up", "job", j.ID, "attempts", attempt, "last_error", a.Error)
	default:
		n.Logger.Debug("webhook failed; will retry", "job", j.ID, "attempt", attempt, "error", a.Error, "retry_in", time.Until(next).Round(time.Millisecond))
	}
	cacheView(rctx, n.Store, n.Cache, n.Logger, j.ID)
}

// backoff is the wait after the given failed attempt: Backoff doubled per
// attempt, capped at MaxBackoff, less up to a tenth at random so receivers
// that come back are not hit by every sender in the same instant.
func (n Notifier) backoff(attempt int) time.Duration {
	d := n.Backoff
	for i := 1; i < attempt && d < n.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, n.MaxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// post sends the job's view and returns the receiver's status, or 0 and
// what went wrong.
func (n Notifier) post(ctx context.Context, j store.Job, attempt int) (int, string) {
	v := ViewOf(j)
	v.Callback = nil // the delivery is the callback; its own record is on the job
	body, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(ctx, n.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, "not sent: " + err.Error()
	}
	ua := n.UserAgent
	if ua == "" {
		ua = "soccerpredict-webhook"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	req.Header.Set(webhook.JobHeader, j.ID)
	req.Header.Set(webhook.AttemptHeader, strconv.Itoa(attempt))
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(n.Secret, time.Now(), body))
	resp, err := n.Client.Do(req)
	if err != nil {
		return 0, describeSendError(err, n.Timeout)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, "the receiver answered " + resp.Status
}

// describeSendError names a failed send briefly: the cause, not Go's
// wrapping of the method and URL (the job already shows the URL).
func describeSendError(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return truncateText(oe.Op+": "+oe.Err.Error(), 300)
	}
	return truncateText(err.Error(), 300)
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
