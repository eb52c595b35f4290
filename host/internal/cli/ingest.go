package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/robfig/cron/v3"
	"github.com/schollz/progressbar/v3"

	"github.com/soccerpredict/soccerpredict/host/internal/config"

	"github.com/soccerpredict/soccerpredict/host/internal/ingest"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

func runIngest(e env, args []string) error {
	fs, c := newFlags(e, "ingest")
	only := fs.String("source", "", "ingest only this source plugin")
	scheduled := fs.Bool("schedule", false, "stay up and ingest at every time ingest.schedule names (cron expressions), until stopped")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	log := logger(e, cfg)
	suite, err := ingest.LoadSuite(cfg.Ingest.Expectations)
	if err != nil {
		return err
	}
	if len(cfg.Sources) == 0 {
		return errors.New("no sources configured (add a `sources:` entry naming a source plugin)")
	}
	st, err := openStore(e.ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	host, err := pluginhost.New(cfg.Plugins, log)
	if err != nil {
		return err
	}
	defer host.Close()

	r := ingest.Runner{Store: st, Suite: suite, ValidationDir: filepath.Join(cfg.DataDir, "validations"), Logger: log}
	if isTerminal(e.stderr) && !*scheduled {
		r.Progress = &bar{w: e.stderr}
	}
	once := func() error { return ingestOnce(e, cfg, r, host, *only) }
	if *scheduled {
		return onSchedule(e, cfg, log, once)
	}
	return once()
}

// ingestOnce runs every configured source (or only one) through r.
func ingestOnce(e env, cfg config.Config, r ingest.Runner, host *pluginhost.Host, only string) error {
	log := r.Logger
	var failed []error
	ran := 0
	for _, s := range cfg.Sources {
		if only != "" && s.Plugin != only {
			continue
		}
		ran++
		p, err := host.Plugin(s.Plugin)
		if err != nil {
			return err
		}
		sum, err := r.Run(e.ctx, ingest.Source{Name: s.Plugin, Source: pluginhost.SourceOf(p),
			Request: source.FetchRequest{Competitions: s.Competitions, Seasons: s.Seasons}})
		if err != nil {
			log.Error("ingest failed", "source", s.Plugin, "run", sum.RunID, "error", err)
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(e.stdout, "ingest %s %s\n", sum.RunID, sum)
		if sum.FailedBatches > 0 || sum.Applied.Quarantined > 0 {
			fmt.Fprintf(e.stdout, "  data contract: %d of %d files had failing rows; see `soccerpredict quarantine --run %s`\n",
				sum.FailedBatches, sum.Files, sum.RunID)
		} else {
			fmt.Fprintf(e.stdout, "  data contract: every expectation met in %d files\n", sum.Files)
		}
		if sum.Validations != "" {
			fmt.Fprintf(e.stdout, "  validation results: %s\n", sum.Validations)
		}
	}
	if only != "" && ran == 0 {
		return fmt.Errorf("%w: no configured source uses plugin %q", errUsage, only)
	}
	return errors.Join(failed...)
}

// onSchedule runs ingest at every time the schedule names until the
// command is stopped. A run that is still going when its next time comes
// makes that time pass (runs never overlap); a failed run is logged and the
// schedule goes on.
func onSchedule(e env, cfg config.Config, log hclog.Logger, run func() error) error {
	if len(cfg.Ingest.Schedule) == 0 {
		return fmt.Errorf("%w: --schedule needs ingest.schedule: cron expressions such as [\"0 6 * * *\"] or [\"@every 6h\"]", errUsage)
	}
	loc := time.UTC
	if cfg.Ingest.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(cfg.Ingest.Timezone); err != nil {
			return err
		}
	}
	var schedules []cron.Schedule
	for _, spec := range cfg.Ingest.Schedule {
		s, err := config.CronParser.Parse(spec)
		if err != nil {
			return err // Validate has named it already
		}
		schedules = append(schedules, s)
	}
	next := func(after time.Time) time.Time {
		var at time.Time
		for _, s := range schedules {
			if t := s.Next(after.In(loc)); at.IsZero() || t.Before(at) {
				at = t
			}
		}
		return at
	}
	at := next(time.Now())
	fmt.Fprintf(e.stdout, "ingest scheduled (%s, %s); next at %s\n", strings.Join(cfg.Ingest.Schedule, "; "), loc, at.Format(time.RFC3339))
	for {
		timer := time.NewTimer(time.Until(at))
		select {
		case <-e.ctx.Done():
			timer.Stop()
			fmt.Fprintln(e.stdout, "ingest schedule stopped")
			return nil
		case <-timer.C:
		}
		started := time.Now()
		if err := run(); err != nil {
			if e.ctx.Err() != nil {
				return nil
			}
			log.Error("scheduled ingest failed; the schedule goes on", "error", err)
		}
		at = next(time.Now())
		if skipped := next(started); skipped.Before(at) {
			log.Warn("an ingest outlasted its next scheduled time; that time was skipped", "took", time.Since(started).Round(time.Millisecond))
		}
		fmt.Fprintf(e.stdout, "next ingest at %s\n", at.Format(time.RFC3339))
	}
}

// bar draws ingestion progress on a terminal: files done and their rate,
// and an ETA when the total is known (the source's last complete run).
type bar struct {
	w          io.Writer
	b          *progressbar.ProgressBar
	done, want int
}

func (b *bar) Start(total int, what string) {
	b.done, b.want = 0, total
	b.b = progressbar.NewOptions(total, progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("files"),
		progressbar.OptionSetPredictTime(total > 0), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100e6))
}

func (b *bar) Add(n int) {
	if b.done += n; b.want > 0 && b.done > b.want { // more files than last time
		b.want = b.done
		b.b.ChangeMax(b.want)
	}
	b.b.Add(n)
}

func (b *bar) Finish() { b.b.Finish() }
