package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/schollz/progressbar/v3"

	"github.com/soccerpredict/soccerpredict/host/internal/contract"
	"github.com/soccerpredict/soccerpredict/host/internal/ingest"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/sdk/source"
)

func runIngest(e env, args []string) error {
	fs, c := newFlags(e, "ingest")
	only := fs.String("source", "", "ingest only this source plugin")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	log := logger(e, cfg)
	suite, err := contract.Load(cfg.Ingest.Expectations)
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
	if isTerminal(e.stderr) {
		r.Progress = &bar{w: e.stderr}
	}
	var failed []error
	ran := 0
	for _, s := range cfg.Sources {
		if *only != "" && s.Plugin != *only {
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
	if *only != "" && ran == 0 {
		return fmt.Errorf("%w: no configured source uses plugin %q", errUsage, *only)
	}
	return errors.Join(failed...)
}

// bar draws ingestion progress on a terminal.
type bar struct {
	w io.Writer
	b *progressbar.ProgressBar
}

func (b *bar) Start(total int, what string) {
	b.b = progressbar.NewOptions(total, progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionSetItsString("files"), progressbar.OptionClearOnFinish())
}

func (b *bar) Add(n int) { b.b.Add(n) }

func (b *bar) Finish() { b.b.Finish() }
