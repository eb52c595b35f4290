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
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/term"

	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/store"
	"github.com/soccerpredict/soccerpredict/host/internal/store/pgstore"
	"github.com/soccerpredict/soccerpredict/host/internal/store/sqlitestore"
)

// Version is the host's version: set at build time with -ldflags, else
// read from the build's own record (the module version, or the commit it
// was built from).
var Version = "dev"

func init() {
	if Version == "dev" {
		Version = buildVersion()
	}
}

// buildVersion names a build from runtime/debug's build info: a tagged
// module version, else dev+<commit>[-dirty].
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return "dev+" + rev + dirty
}

// versionLine is what `version` and --version print.
func versionLine() string {
	line := "soccerpredict " + Version + " (" + runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				line += ", committed " + s.Value
			}
		}
	}
	return line + ")"
}

// env is what every command gets.
type env struct {
	ctx     context.Context
	environ []string
	stdout  io.Writer
	stderr  io.Writer
}

type command struct {
	name, args, help string
	run              func(e env, args []string) error
}

func routes() []command {
	return []command{
		{"ingest history", "[--limit N]", "list recent ingest runs", runRuns},
		{"ingest", "[--source NAME]", "fetch from the configured sources, check the data contract, upsert into the store", runIngest},
		{"plugins list", "", "show the configured plugins and whether each binary matches its pinned SHA-256", runPluginsList},
		{"plugins verify", "[NAME...]", "launch each plugin, negotiate its API version and smoke-test it", runPluginsVerify},
		{"serve", "[--addr :8080]", "serve predictions over HTTP from the champion model", runServe},
		{"worker", "", "work async prediction jobs from RabbitMQ (queue.driver rabbitmq)", runWorker},
		{"models train", "[--alias champion] [--if-no-champion] [--out DIR]", "replay history through the feature plugin, train with the model plugin, register", runModelsTrain},
		{"models list", "", "list registered model versions", runModelsList},
		{"models challenge", "[--version N]", "name the version (default: the candidate) to challenge the champion", runModelsChallenge},
		{"models promote", "[--force --reason TEXT]", "backtest the challenger against the champion; promote only if it is better", runModelsPromote},
		{"models rollback", "[--reason TEXT]", "point the champion back at the previous champion", runModelsRollback},
		{"models audit", "[--limit N]", "who changed which alias, when, why", runModelsAudit},
		{"models export", "--out DIR [--version N]", "write a model version as an MLflow model directory (default: the champion)", runModelsExport},
		{"models import", "DIR [--alias candidate] [--name NAME]", "register an ONNX model directory logged by MLflow, once it fits the feature schema and loads", runModelsImport},
		{"evaluate", "[--out FILE]", "walk-forward evaluation against the bookmaker's closing line and base rates", runEvaluate},
		{"batch", "STAGE [flags]", "a DVC pipeline stage on files: ingest, validate, features, train, evaluate, register", runBatch},
		{"keys create", "--name NAME [--scopes predict,admin] [--rate N]", "make an API key (shown once; stored hashed)", runKeysCreate},
		{"keys list", "", "list API keys", runKeysList},
		{"keys revoke", "ID", "revoke an API key", runKeysRevoke},
		{"matches", "[--competition E0] [--season 2324] [--limit N]", "list stored matches in kick-off order", runMatches},
		{"quarantine", "[--source NAME] [--run ID]", "list rows held back by ingestion, with the reason", runQuarantine},
		{"runs list", "[--limit N]", "list tracked train and evaluate runs", runRunsList},
		{"runs compare", "RUN_A RUN_B", "show two tracked runs side by side", runRunsCompare},
		{"version", "", "print the host's version (also --version)", func(e env, _ []string) error { _, err := fmt.Fprintln(e.stdout, versionLine()); return err }},
	}
}

// errUsage marks errors that are the caller's; they exit with status 2.
var errUsage = errors.New("usage")

// Run runs one command and returns the process exit status. environ is the
// process environment (os.Environ()); config reads its SOCCERPREDICT_ keys.
func Run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) int {
	e := env{ctx: ctx, environ: environ, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	for _, c := range routes() {
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
	for _, c := range routes() {
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
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: soccerpredict COMMAND [flags]\n\ncommands:")
	for _, c := range routes() {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.help)
	}
	fmt.Fprintln(w, "\nevery command takes --config FILE (repeatable; default $SOCCERPREDICT_CONFIG or configs/local.yaml)")
	fmt.Fprintln(w, "and --set key=value (repeatable), over SOCCERPREDICT_* environment variables (SOCCERPREDICT_STORE__DSN=...).")
}

// common are the flags every command takes.
type common struct {
	configs multi
	sets    multi
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(e env, name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c := &common{}
	fs.Var(&c.configs, "config", "config file (repeatable)")
	fs.Var(&c.sets, "set", "override a config key: key=value (repeatable)")
	return fs, c
}

// parse parses flags, also after positional arguments (`runs compare A B
// --config f`); positional arguments are left in fs.Args().
func parse(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, positional...))
}

// load reads the configuration the flags and environment point at.
func (c *common) load(e env) (config.Config, error) {
	files := []string(c.configs)
	if len(files) == 0 {
		files = config.Files(e.getenv)
	}
	if len(files) == 0 && config.Exists("configs/local.yaml") {
		files = []string{"configs/local.yaml"}
	}
	return config.Load(files, e.environ, c.sets)
}

func (e env) getenv(key string) string {
	for _, kv := range e.environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func logger(e env, cfg config.Config) hclog.Logger {
	jsonFormat := cfg.Log.Format == "json" || (cfg.Log.Format == "auto" && !isTerminal(e.stderr))
	return hclog.New(&hclog.LoggerOptions{Name: "soccerpredict", Level: hclog.LevelFromString(cfg.Log.Level),
		JSONFormat: jsonFormat, Output: e.stderr})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openStore loads the configuration and opens the store it names.
func (c *common) openStore(e env) (store.Store, error) {
	cfg, err := c.load(e)
	if err != nil {
		return nil, err
	}
	return openStore(e.ctx, cfg)
}

func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		return pgstore.Open(ctx, cfg.Store.DSN)
	default:
		return sqlitestore.Open(ctx, cfg.Store.DSN)
	}
}
