package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/soccerpredict/soccerpredict/host/webhook"
)

// Watcher recomputes the report every Every from the store, for /metrics,
// GET /v1/monitoring and the alarm: each serve replica computes the same
// numbers from the same store.
type Watcher struct {
	Store  Store
	Every  time.Duration
	Query  Query
	Logger hclog.Logger
	// Observe, when set, is given every new report (Prometheus series).
	Observe func(Report)
	// Notify, when set, is told each version whose alarm is newly raised.
	Notify func(context.Context, AlarmEvent)
	// Ingest, when set, gives the ingest-side checks for each report.
	Ingest func(context.Context) ([]IngestCheck, error)

	mu     sync.Mutex
	last   Report
	have   bool
	err    error
	raised map[int]bool
}

// AlarmEvent is the webhook body sent when a version's alarm is raised.
type AlarmEvent struct {
	// ID is the same for the same alarm from every replica: receivers
	// can drop the copies.
	ID          string     `json:"id"`
	Event       string     `json:"event"`
	Model       string     `json:"model"`
	Version     int        `json:"version"`
	Alarm       AlarmState `json:"alarm"`
	GeneratedAt time.Time  `json:"generated_at"`
}

// Run refreshes until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	tick := time.NewTicker(w.Every)
	defer tick.Stop()
	for {
		if err := w.Refresh(ctx); err != nil && ctx.Err() == nil && w.Logger != nil {
			w.Logger.Warn("monitor refresh failed; keeping the last report", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Refresh computes the report now.
func (w *Watcher) Refresh(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, max(w.Every, 30*time.Second))
	rep, err := Compute(cctx, w.Store, w.Query)
	if err == nil && w.Ingest != nil {
		rep.Ingest, err = w.Ingest(cctx)
	}
	cancel()
	w.mu.Lock()
	w.err = err
	if err != nil {
		w.mu.Unlock()
		return err
	}
	rep.Scored = nil
	w.last, w.have = rep, true
	if w.raised == nil {
		w.raised = map[int]bool{}
	}
	var newly []AlarmEvent
	for _, v := range rep.Versions {
		if v.Alarm.Raised && !w.raised[v.Version] {
			newly = append(newly, AlarmEvent{ID: fmt.Sprintf("alarm-v%d-%s", v.Version, v.Alarm.RaisedMatch), Event: "monitor.alarm",
				Model: v.Model, Version: v.Version, Alarm: v.Alarm, GeneratedAt: rep.GeneratedAt})
		}
		w.raised[v.Version] = v.Alarm.Raised
	}
	w.mu.Unlock()
	if w.Observe != nil {
		w.Observe(rep)
	}
	for _, ev := range newly {
		if w.Logger != nil {
			w.Logger.Warn("live-quality alarm: a model version is worse than the pre-match price", "model", ev.Model, "version", ev.Version,
				"since_match", ev.Alarm.RaisedAt, "z", ev.Alarm.Z, "mean_delta_log_loss", ev.Alarm.MeanDelta)
		}
		if w.Notify != nil {
			w.Notify(ctx, ev)
		}
	}
	return nil
}

// Last is the newest report; false before the first refresh succeeded.
func (w *Watcher) Last() (Report, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.have, w.err
}

// AlarmHook posts alarm events to URL, signed like job callbacks
// (webhook.SignatureHeader over the body with Secret), retrying a few
// times on failure.
type AlarmHook struct {
	URL     string
	Secret  []byte
	Client  *http.Client
	Timeout time.Duration
	Logger  hclog.Logger
}

// EventHeader names the kind of event a delivery carries.
const EventHeader = "SoccerPredict-Event"

// Send delivers ev, up to four attempts, 2 s apart and doubling.
func (h AlarmHook) Send(ctx context.Context, ev AlarmEvent) {
	body, _ := json.Marshal(ev)
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	wait := 2 * time.Second
	for attempt := 1; ; attempt++ {
		err := h.post(ctx, client, timeout, body)
		if err == nil {
			return
		}
		if attempt == 4 || ctx.Err() != nil {
			if h.Logger != nil {
				h.Logger.Error("alarm webhook not delivered", "url", h.URL, "attempts", attempt, "error", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (h AlarmHook) post(ctx context.Context, client *http.Client, timeout time.Duration, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(EventHeader, "monitor.alarm")
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(h.Secret, time.Now(), body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}
