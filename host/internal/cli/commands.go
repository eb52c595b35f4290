// Package cli is the soccerpredict command line: one Run function that main
// calls with the process's arguments, environment and output streams, so that
// tests run the very same code. routes lists every command.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

func init() { table, usageExamples = routes(), examples }

func routes() []command {
	return []command{
		{"ingest history", "[--limit N]", "list recent ingest runs", runRuns},
		{"ingest", "[--source NAME] [--schedule]", "fetch from the configured sources, check the data contract, upsert into the store", runIngest},
		{"plugins list", "[--server URL [--api-key KEY]]", "show the configured plugins and whether each binary matches its pinned SHA-256", runPluginsList},
		{"plugins verify", "[NAME...]", "launch each plugin, negotiate its API version and smoke-test it", runPluginsVerify},
		{"plugins new", "KIND NAME [--dir DIR] [--module PATH] [--sdk DIR]", "scaffold a plugin module (code, main, conformance test, config snippet) that builds and passes its conformance suite", runPluginsNew},
		{"serve", "[--addr :8080] [--grpc-addr :8081]", "serve predictions over HTTP (and OIP gRPC) from the champion model, with the web page at /", runServe},
		{"worker", "", "work async prediction jobs from RabbitMQ (queue.driver rabbitmq)", runWorker},
		{"models train", "[--alias champion] [--if-no-champion] [--out DIR]", "replay history through the feature plugin, train with the model plugin, register", runModelsTrain},
		{"models list", "", "list registered model versions and the aliases pointing at them", runModelsList},
		{"models challenge", "[--version N]", "name the version (default: the candidate) to challenge the champion", runModelsChallenge},
		{"models shadow", "VERSION", "name VERSION the challenger: serve computes it in shadow on live forecasts, logged and scored beside the champion", runModelsShadow},
		{"models promote", "[--force --reason TEXT]", "backtest the challenger against the champion (and weigh its live evidence); promote only if it is better", runModelsPromote},
		{"models rollback", "[--reason TEXT]", "point the champion back at the previous champion", runModelsRollback},
		{"models audit", "[--limit N]", "who changed which alias, when, why", runModelsAudit},
		{"models export", "--out DIR [--version N]", "write a model version as an MLflow model directory (default: the champion)", runModelsExport},
		{"models import", "DIR [--alias candidate] [--name NAME]", "register an ONNX model directory logged by MLflow, once it fits the feature schema and loads", runModelsImport},
		{"evaluate", "[--out FILE]", "walk-forward evaluation against the bookmaker's closing line and base rates", runEvaluate},
		{"batch ingest", "--out FILE --rejects FILE", "DVC stage: fetch from the sources into a matches CSV (no store)", batchStage(batchIngest)},
		{"batch validate", "--in FILE --rejects FILE --out FILE --quarantine FILE --report FILE", "DVC stage: check the data contract; valid rows, quarantined rows, a report", batchStage(batchValidate)},
		{"batch features", "--in FILE --out FILE", "DVC stage: replay the matches through the feature plugin into a features CSV and its schema", batchStage(batchFeatures)},
		{"batch train", "--in FILE --model DIR --metrics FILE", "DVC stage: train on the features; the model as an MLflow directory", batchStage(batchTrain)},
		{"batch evaluate", "--in FILE --metrics FILE --plots DIR", "DVC stage: walk-forward evaluation with reliability and RPS plots (CSV and PNG)", batchStage(batchEvaluate)},
		{"batch register", "--model DIR --train-metrics FILE --evaluate-metrics FILE --out FILE", "DVC stage: register the model in the registry as a candidate", batchStage(batchRegister)},
		{"batch predict", "--out FILE", "DVC stage: forecast the scheduled fixtures in the store with the serving champion", batchStage(batchPredict)},
		{"monitor backfill", "--from DATE [--version N] [--without-odds]", "forecast every finished match since DATE as of its kick-off and log it as if served, so the monitor has history", runMonitorBackfill},
		{"monitor", "[--from DATE] [--to DATE] [--competition C] [--version N] [--windows 50,200,1000] [--plots DIR] [--json FILE]", "how the served forecasts did against the results and the market: scores, calibration, the alarm, drift", runMonitor},
		{"batch monitor", "--json FILE --plots DIR", "DVC stage: the monitor's report as metrics JSON and PNG plots", batchStage(batchMonitor)},
		{"keys create", "--name NAME [--scopes predict,admin] [--rate N]", "make an API key (shown once; stored hashed)", runKeysCreate},
		{"keys list", "", "list API keys", runKeysList},
		{"keys revoke", "ID", "revoke an API key", runKeysRevoke},
		{"matches", "[--competition E0] [--season 2324] [--limit N]", "list stored matches in kick-off order", runMatches},
		{"quarantine", "[--source NAME] [--run ID]", "list rows held back by ingestion, with the reason", runQuarantine},
		{"runs list", "[--limit N]", "list tracked train and evaluate runs", runRunsList},
		{"runs compare", "RUN_A RUN_B", "show two tracked runs side by side", runRunsCompare},
		{"synth", "--out DIR [--matches N] [--seed S]", "write a synthetic corpus in football-data.co.uk's layout, for scale tests", runSynth},
		{"metrics", "", "list every series serve and worker expose at /metrics (name, type, help): what dashboards and alerts may query", runMetrics},
		{"completion", "bash|zsh|fish", "print a shell completion script", runCompletion},
		{"version", "", "print the host's version (also --version)", runVersion},
		{"ready", "--server URL", "ask a running serve (or worker's probes address) whether it is ready: exit 0 if so, else say why (the chart's helm test)", runReady},
	}
}

func runVersion(e env, args []string) error {
	fs, _ := newFlags(e, "version")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(e.stdout, versionLine())
	return err
}

// runReady asks a server's /readyz and exits non-zero, saying why, unless
// it is ready: a check for scripts, exec probes and the chart's helm test.
func runReady(e env, args []string) error {
	fs, _ := newFlags(e, "ready")
	server := fs.String("server", "", "the server's base URL, e.g. http://localhost:8080")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *server == "" {
		return fmt.Errorf("%w: --server is required", errUsage)
	}
	ctx, cancel := context.WithTimeout(e.ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(*server, "/")+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("%w: --server %q: %v", errUsage, *server, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s is not answering: %w", *server, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s is not ready (%d): %s", *server, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	_, err = fmt.Fprintf(e.stdout, "%s is ready: %s\n", *server, strings.TrimSpace(string(body)))
	return err
}

// batchStage times a DVC stage.
func batchStage(run func(env, []string) error) func(env, []string) error {
	return func(e env, args []string) error {
		started := time.Now()
		if err := run(e, args); err != nil {
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "done in %s\n", time.Since(started).Round(time.Millisecond))
		return err
	}
}

// Run runs one command and returns the process exit status. environ is the
// process environment (os.Environ()); config reads its SOCCERPREDICT_ keys.
func Run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) int {
	e := env{ctx: ctx, environ: environ, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	if args[0] == "__complete" {
		complete(e, table, args[1:])
		return 0
	}
	for _, c := range table {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			err := c.run(e, args[len(words):])
			switch {
			case err == nil:
				return 0
			case errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				fmt.Fprintf(stderr, "soccerpredict %s: %v\nusage: soccerpredict %s %s\n", c.name, err, c.name, c.args)
				return 2
			default:
				fmt.Fprintf(stderr, "soccerpredict %s: %v\n", c.name, err)
				return 1
			}
		}
	}
	// A group alone (`soccerpredict models`) lists its subcommands.
	var group []command
	for _, c := range table {
		if first, _, _ := strings.Cut(c.name, " "); first == args[0] && strings.Contains(c.name, " ") {
			group = append(group, c)
		}
	}
	if len(group) > 0 {
		w, code := stderr, 2
		if len(args) == 1 || args[1] == "-h" || args[1] == "--help" || args[1] == "help" {
			w, code = stdout, 0
		} else {
			fmt.Fprintf(stderr, "soccerpredict: %s has no subcommand %q\n", args[0], args[1])
		}
		fmt.Fprintf(w, "usage: soccerpredict %s SUBCOMMAND [flags]\n\nsubcommands:\n", args[0])
		for _, c := range group {
			fmt.Fprintf(w, "  %-18s %s\n", c.name, c.help)
		}
		fmt.Fprintf(w, "\nsoccerpredict %s SUBCOMMAND --help shows its flags\n", group[0].name[:len(args[0])])
		return code
	}
	fmt.Fprintf(stderr, "soccerpredict: unknown command %q\n", strings.Join(args, " "))
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: soccerpredict COMMAND [flags]\n\ncommands:")
	for _, c := range table {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nevery command takes --config FILE (repeatable; default $SOCCERPREDICT_CONFIG or configs/local.yaml)")
	fmt.Fprintln(w, "and --set key=value (repeatable), over SOCCERPREDICT_* environment variables (SOCCERPREDICT_STORE__DSN=...).")
}

// examples are shown by each command's --help.
var examples = map[string][]string{
	"ingest":           {"soccerpredict ingest", "soccerpredict ingest --source footballdata", "soccerpredict ingest --schedule    # stay up, ingesting on ingest.schedule"},
	"ingest history":   {"soccerpredict ingest history --limit 5"},
	"plugins list":     {"soccerpredict plugins list", "soccerpredict plugins list --server http://localhost:8080 --api-key $KEY"},
	"plugins verify":   {"soccerpredict plugins verify", "soccerpredict plugins verify onnx"},
	"plugins new":      {"soccerpredict plugins new source jsonfile    # in a checkout: plugins/sources/jsonfile", "soccerpredict plugins new model mymodel --dir ~/mymodel --sdk ~/soccerpredict/sdk"},
	"serve":            {"soccerpredict serve", "soccerpredict serve --addr 127.0.0.1:9000 --grpc-addr off", "soccerpredict serve --config configs/production.yaml"},
	"worker":           {"soccerpredict worker --config configs/production.yaml"},
	"models train":     {"soccerpredict models train", "soccerpredict models train --alias champion", "soccerpredict models train --set 'model.params.l2_grid=[0.01,0.1]' --out /tmp/model"},
	"models list":      {"soccerpredict models list"},
	"models challenge": {"soccerpredict models challenge", "soccerpredict models challenge --version 4"},
	"models shadow":    {"soccerpredict models shadow 4"},
	"models promote":   {"soccerpredict models promote", "soccerpredict models promote --force --reason \"hotfix for a bad feature\""},
	"models rollback":  {"soccerpredict models rollback --reason \"v5 misprices draws\""},
	"models audit":     {"soccerpredict models audit --limit 10"},
	"models export":    {"soccerpredict models export --out /tmp/champion", "soccerpredict models export --out /tmp/v3 --version 3"},
	"models import":    {"soccerpredict models import /tmp/mlflow-model --alias candidate"},
	"evaluate":         {"soccerpredict evaluate", "soccerpredict evaluate --out evaluation.json --set evaluate.test_seasons=2324"},
	"monitor":          {"soccerpredict monitor", "soccerpredict monitor --from 2024-08-01 --competition E0 --plots var/monitor", "soccerpredict monitor --version 4 --windows 100,500 --json monitor.json"},
	"monitor backfill": {"soccerpredict monitor backfill --from 2024-08-01", "soccerpredict monitor backfill --from 2023-08-01 --version 3 --without-odds"},
	"batch predict":    {"soccerpredict batch predict --out pipeline/forecasts/upcoming.csv"},
	"keys create":      {"soccerpredict keys create --name dashboard", "soccerpredict keys create --name ops --scopes predict,admin --rate 6000"},
	"keys list":        {"soccerpredict keys list"},
	"keys revoke":      {"soccerpredict keys revoke 3f9c2a1b"},
	"matches":          {"soccerpredict matches --competition E0 --season 2324 --limit 5"},
	"quarantine":       {"soccerpredict quarantine", "soccerpredict quarantine --source footballdata"},
	"runs list":        {"soccerpredict runs list --limit 5"},
	"runs compare":     {"soccerpredict runs compare 20261201T101500Z-1a2b3c 20261201T103000Z-4d5e6f"},
	"metrics":          {"soccerpredict metrics", "soccerpredict metrics | grep monitor"},
	"completion":       {"source <(soccerpredict completion bash)", "soccerpredict completion zsh > \"${fpath[1]}/_soccerpredict\"", "soccerpredict completion fish > ~/.config/fish/completions/soccerpredict.fish"},
	"version":          {"soccerpredict version", "soccerpredict --version"},
	"ready":            {"soccerpredict ready --server http://localhost:8080"},
	"synth":            {"soccerpredict synth --out var/synth --matches 1000000", "soccerpredict ingest --set plugins.footballdata.config.dir=var/synth"},
}
