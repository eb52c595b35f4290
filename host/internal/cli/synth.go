package cli

import (
	"fmt"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/synth"
)

func runSynth(e env, args []string) error {
	fs, _ := newFlags(e, "synth")
	out := fs.String("out", "", "the directory to write DIV/SEASON.csv files into")
	n := fs.Int("matches", 100000, "about this many matches (whole leagues of 9,880)")
	seed := fs.Uint64("seed", 1, "the random seed: the same size and seed write the same files")
	layout := fs.String("layout", string(synth.Full), "the columns: full (every column of football-data.co.uk's current files) or compact (the result and four price sets)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out is required", errUsage)
	}
	if *n < 1 {
		return fmt.Errorf("%w: --matches must be at least 1", errUsage)
	}
	started := time.Now()
	var pb *bar
	if isTerminal(e.stderr) {
		pb = &bar{w: e.stderr}
		pb.Start(synth.Plan(*n)*synth.Seasons, "synth")
		defer pb.Finish()
	}
	written, err := synth.Write(*out, *n, *seed, synth.Layout(*layout), func(done, total int) {
		if pb != nil {
			pb.Add(1)
		}
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%d matches in %d leagues × %d seasons written to %s in %s\n", written, synth.Plan(*n), synth.Seasons, *out,
		time.Since(started).Round(time.Millisecond))
	return err
}
