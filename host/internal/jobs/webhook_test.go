package jobs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/webhook"
)

func TestCallbackPolicy(t *testing.T) {
	p := &CallbackPolicy{AllowedHosts: []string{"hooks.example.com", "*.partner.org", "127.0.0.1:9000"}}
	for raw, ok := range map[string]bool{
		"https://hooks.example.com/soccer":                                 true,
		"http://HOOKS.example.com:8443/x?y=1":                              true,
		"https://a.b.partner.org/cb":                                       true,
		"https://partner.org/cb":                                           false, // *. is subdomains only
		"https://evilhooks.example.com/":                                   false,
		"https://hooks.example.com.evil.net/":                              false,
		"http://127.0.0.1:9000/cb":                                         true,
		"http://127.0.0.1:9001/cb":                                         false,
		"https://hooks.example.com:99999/cb":                               false, // any port, but a port
		"https://hooks.example.com:0/cb":                                   false,
		"ftp://hooks.example.com/x":                                        false,
		"https://user:pw@hooks.example.com/":                               false,
		"https://hooks.example.com/#frag":                                  false,
		"/relative/path":                                                   false,
		"https://hooks.example.com/" + strings.Repeat("a", MaxCallbackURL): false,
	} {
		if err := p.Check(raw); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", raw, err, ok)
		}
	}
	var off *CallbackPolicy
	if err := off.Check("https://hooks.example.com/"); err == nil || !strings.Contains(err.Error(), "not enabled") {
		t.Fatalf("webhooks off: %v", err)
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	n := Notifier{Backoff: time.Second, MaxBackoff: 10 * time.Second}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 30: 10 * time.Second} {
		if d := n.backoff(attempt); d > want || d < want*9/10 {
			t.Errorf("after attempt %d: %v, want %v less at most a tenth", attempt, d, want)
		}
	}
}

// Deliveries are signed, retried, given up, and never held up by a receiver
// that hangs.
func TestNotifierDelivers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openSQLite(t)
	secret := []byte("0123456789abcdef")
	var failing, verified atomic.Int64
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0) == nil && r.Header.Get(webhook.JobHeader) == "ok" {
			verified.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/failing", func(w http.ResponseWriter, r *http.Request) {
		failing.Add(1)
		http.Error(w, "no", http.StatusInternalServerError)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.example/", http.StatusFound)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // the server notices the client leaving only once the body is read
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	recv := httptest.NewServer(mux)
	defer recv.Close()
	policy := &CallbackPolicy{AllowedHosts: []string{"127.0.0.1"}}
	for _, id := range []string{"hang1", "hang2", "ok", "failing", "gone", "redirect", "unlisted"} {
		url := recv.URL + "/" + strings.TrimRight(id, "12")
		if id == "unlisted" {
			url = "http://localhost/never"
		}
		if err := st.CreateJob(ctx, store.Job{ID: id, Request: json.RawMessage(`{}`), CallbackURL: url}); err != nil {
			t.Fatal(err)
		}
	}
	// The hanging ones end first, so they are claimed first.
	for _, id := range []string{"hang1", "hang2", "ok", "failing", "gone", "redirect", "unlisted"} {
		st.FinishJob(ctx, id, json.RawMessage(`{"probabilities":{"home":0.5,"draw":0.3,"away":0.2}}`), "")
	}
	n := Notifier{Store: st, Logger: hclog.NewNullLogger(), Policy: policy, Secret: secret, MaxAttempts: 3,
		Backoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 400 * time.Millisecond, Concurrency: 3, PollInterval: 10 * time.Millisecond}
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	state := func(id string) store.Job {
		j, _ := st.Job(context.Background(), id)
		return j
	}
	start := time.Now()
	for state("ok").CallbackState != store.CallbackDelivered {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("ok never delivered: %+v", state("ok"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if verified.Load() != 1 {
		t.Fatalf("%d verified deliveries of ok", verified.Load())
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if state("failing").CallbackState == store.CallbackFailed && state("hang1").CallbackState == store.CallbackFailed && state("hang2").CallbackState == store.CallbackFailed {
			break
		}
	}
	cancel()
	<-done
	for id, want := range map[string]struct {
		state    string
		attempts int
		errPart  string
	}{
		"ok":       {store.CallbackDelivered, 1, ""},
		"failing":  {store.CallbackFailed, 3, "500"},
		"gone":     {store.CallbackFailed, 1, "410"},
		"redirect": {store.CallbackPending, 1, "302"}, // not followed; retried
		"unlisted": {store.CallbackFailed, 1, "not sent"},
		"hang1":    {store.CallbackFailed, 3, "no answer within 400ms"},
	} {
		j := state(id)
		if j.CallbackState != want.state && !(id == "redirect" && j.CallbackState == store.CallbackFailed) {
			t.Errorf("%s: state %s, want %s", id, j.CallbackState, want.state)
		}
		if id != "redirect" && len(j.Callbacks) != want.attempts || len(j.Callbacks) == 0 {
			t.Errorf("%s: %d attempts, want %d: %+v", id, len(j.Callbacks), want.attempts, j.Callbacks)
			continue
		}
		if a := j.Callbacks[0]; !strings.Contains(a.Error, want.errPart) || a.Attempt != 1 {
			t.Errorf("%s: first attempt %+v, want an error with %q", id, a, want.errPart)
		}
	}
	// Two receivers hung in two of the three slots; the third kept working:
	// ok was delivered before the first hanging attempt gave up.
	okAt, hung := state("ok").Callbacks[0].At, state("hang1").Callbacks[0]
	if !okAt.Before(hung.At.Add(hung.Duration)) {
		t.Fatalf("ok was delivered at %v, after the hanging receiver's attempt ended (%v): it waited for it", okAt, hung.At.Add(hung.Duration))
	}
	if failing.Load() != 3 {
		t.Fatalf("the failing receiver was called %d times, want 3", failing.Load())
	}
	// Attempts of the failing one are spaced by the backoff.
	f := state("failing").Callbacks
	if gap := f[1].At.Sub(f[0].At); gap < 40*time.Millisecond {
		t.Fatalf("retried after %v, before the 50ms backoff", gap)
	}
	v := ViewOf(state("failing"))
	if v.Callback == nil || v.Callback.State != "failed" || len(v.Callback.Attempts) != 3 || v.Callback.Attempts[0].StatusCode != 500 {
		t.Fatalf("view %+v", v.Callback)
	}
}
