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
	"text/tabwriter"
	"time"

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

// Commit is the commit the host was built from: set at build time with
// -ldflags (make build does), else read from the build's own record.
var Commit = ""

// commit is Commit, else the build's VCS revision, else "unknown".
func commit() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value[:min(12, len(s.Value))]
			}
		}
	}
	return "unknown"
}

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
	// flags, when set, is given each command's flag set instead of its help
	// being printed (shell completion).
	flags func(*flag.FlagSet)
}

// common are the flags every command takes.
type common struct {
	// name is the command's, as tracing names the process.
	name    string
	configs multi
	sets    multi
	// serving is set by the long-running commands (serve, worker), whose
	// plugins answer one small call at a time; see batchPlugins.
	serving bool
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(e env, name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		if e.flags != nil {
			e.flags(fs) // completion asks which flags a command takes
			return
		}
		commandHelp(e.stdout, fs)
	}
	c := &common{name: name}
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
	cfg, err := config.Load(files, e.environ, c.sets)
	if err != nil {
		return cfg, err
	}
	if c.serving {
		servingPlugins(&cfg)
	} else {
		batchPlugins(&cfg)
	}
	tuneGC(e, cfg.Serve)
	return cfg, nil
}

// tuneGC sets the host's GOGC from config (serve.gc_percent) in every
// command, unless the environment already says: the host's live heap is
// small (a window of matches, a chunk of rows, the serving state), so
// collecting less often buys CPU for a few tens of MB. At a million matches
// it took ingest from 66-72 s to 54-60 s.
func tuneGC(e env, s config.Serve) {
	if e.getenv("GOGC") == "" {
		debug.SetGCPercent(s.GCPercent)
	}
}

// batchPlugins sets the Go runtime of a batch command's plugins (ingest,
// models train, evaluate, the batch stages: a few long calls, not many
// small ones) where config sets none. Every plugin gets Go's own
// GOMAXPROCS, so a trainer's sharded fit runs on every CPU instead of one
// (serve and worker keep the plugins' default of 1, the fastest answer to
// one small call). Source and feature plugins get the host's GOGC: their
// live heap is small while a million matches stream through them (at a
// million matches, ingest + train 114 s -> 100 s); a model plugin keeps
// Go's default, as a trainer holds its training set.
func batchPlugins(cfg *config.Config) {
	for name, p := range cfg.Plugins {
		if p.Procs == nil {
			p.Procs = new(0)
		}
		if p.GCPercent == nil && (p.Kind == "source" || p.Kind == "features") {
			p.GCPercent = new(cfg.Serve.GCPercent)
		}
		cfg.Plugins[name] = p
	}
}

// KeepSysmonAwake is the GODEBUG setting a serving process's plugins get
// where config sets none (plugins.<name>.godebug). Go's system monitor
// sleeps while every P is idle, and the first system call after that wakes
// it (a futex wake and a thread woken on another CPU): a plugin between two
// calls is idle every time, so every call paid it. A schedtrace interval
// keeps the monitor out of that sleep (it backs off to one look every 10 ms
// instead). The interval is the longest there is, 24.8 days: a process
// whose machine has been up longer than that prints one line of scheduler
// state to stderr when it starts, and one every 24.8 days; a fatal error
// (not a recovered panic) also prints the scheduler's state.
const KeepSysmonAwake = "schedtrace=2147483647"

// servingPlugins sets the Go runtime of a serving command's plugins (serve,
// worker) where config sets none: KeepSysmonAwake.
func servingPlugins(cfg *config.Config) {
	for name, p := range cfg.Plugins {
		if p.GODebug == nil {
			p.GODebug = new(KeepSysmonAwake)
		}
		cfg.Plugins[name] = p
	}
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

type command struct {
	name, args, help string
	run              func(e env, args []string) error
}

// errUsage marks errors that are the caller's; they exit with status 2.
var errUsage = errors.New("usage")

// commandHelp is a command's --help: usage with its positional arguments,
// what it does, its flags, and how it is used.
func commandHelp(w io.Writer, fs *flag.FlagSet) {
	c, _ := lookup(fs.Name())
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", strings.TrimSpace("soccerpredict "+c.name+" "+c.args), c.help)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg := ""
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			arg = " " + argName(f)
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  --%s%s\t%s%s\n", f.Name, arg, f.Usage, def)
	})
	tw.Flush()
	if ex := usageExamples[c.name]; len(ex) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, x := range ex {
			fmt.Fprintln(w, "  "+x)
		}
	}
}

// argName is the placeholder a flag's value gets in help: from its type.
func argName(f *flag.Flag) string {
	if strings.Contains(f.Usage, "director") {
		return "DIR"
	}
	switch f.Name {
	case "config", "out", "in", "rejects", "quarantine", "report", "metrics", "train-metrics", "evaluate-metrics":
		return "FILE"
	case "model", "plots":
		return "DIR"
	case "set":
		return "KEY=VALUE"
	}
	switch f.Value.(type) {
	case interface{ Get() any }:
		switch f.Value.(flag.Getter).Get().(type) {
		case int, int64, uint, uint64, float64:
			return "N"
		case time.Duration:
			return "DURATION"
		}
	}
	return strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

// table is every command: the table of commands.go, set when the package
// is initialized, so that a command's flags can print its usage line
// without this file naming the commands.
var table []command

// usageExamples are what --help shows as examples, by command name (set with
// table).
var usageExamples map[string][]string

func lookup(name string) (command, bool) {
	for _, c := range table {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}
