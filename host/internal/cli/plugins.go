package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
	"github.com/soccerpredict/soccerpredict/host/internal/scaffold"
)

func runPluginsList(e env, args []string) error {
	fs, c := newFlags(e, "plugins list")
	server := fs.String("server", "", "list the plugin processes of a running `soccerpredict serve` at this URL instead")
	apiKey := fs.String("api-key", "", "the admin API key for --server (default $SOCCERPREDICT_API_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *server != "" {
		key := *apiKey
		if key == "" {
			key = e.getenv("SOCCERPREDICT_API_KEY")
		}
		return listServerPlugins(e, *server, key)
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	host, err := pluginhost.New(cfg.Plugins, logger(e, cfg))
	if err != nil {
		return err
	}
	defer host.Close()
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tPATH\tTIMEOUT\tBINARY")
	for _, name := range host.Names() {
		p, _ := host.Plugin(name)
		pc := cfg.Plugins[name]
		state := "ok (matches pinned sha256)"
		if _, err := p.Verify(); err != nil {
			state = "REFUSED: " + err.Error()
			if _, statErr := os.Stat(pc.Path); statErr != nil {
				state = "MISSING: run `make build`"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, pc.Kind, pc.Path, pc.Timeout, state)
	}
	return w.Flush()
}

func runPluginsVerify(e env, args []string) error {
	fs, c := newFlags(e, "plugins verify")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.load(e)
	if err != nil {
		return err
	}
	host, err := pluginhost.New(cfg.Plugins, logger(e, cfg))
	if err != nil {
		return err
	}
	defer host.Close()
	names := fs.Args()
	if len(names) == 0 {
		names = host.Names()
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tRESULT")
	var failed []string
	for _, name := range names {
		p, err := host.Plugin(name)
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		detail, err := smoke(e.ctx, p, cfg.Plugins[name])
		if err != nil {
			failed = append(failed, name)
			fmt.Fprintf(w, "%s\t%s\tFAIL: %v\n", name, p.Kind(), err)
			continue
		}
		st := p.Status()
		fmt.Fprintf(w, "%s\t%s\tok: pid %d, API %s, %s\n", name, p.Kind(), st.PID, st.Identity.APIVersion, detail)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		slices.Sort(failed)
		return fmt.Errorf("%d of %d plugins failed verification: %v", len(failed), len(names), failed)
	}
	return nil
}

// smoke launches a plugin (checksum, handshake, configure) and makes the
// cheapest call of its kind.
func smoke(ctx context.Context, p *pluginhost.Plugin, pc config.Plugin) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, pc.StartTimeout+pc.Timeout)
	defer cancel()
	switch p.Kind() {
	case "source":
		d, err := pluginhost.SourceOf(p).Describe(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s, competitions %v", d.Name, d.Version, d.Competitions), nil
	case "features":
		s, err := pluginhost.FeaturesOf(p).Schema(ctx)
		if err != nil {
			return "", err
		}
		if len(s.Columns) == 0 {
			return "", errors.New("schema has no columns")
		}
		return fmt.Sprintf("schema %s, %d columns", s.Version, len(s.Columns)), nil
	case "model":
		d, err := pluginhost.ModelOf(p).Describe(ctx)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s %s on %s, trainer=%v", d.Name, d.Version, d.Runtime, d.Trainer), nil
	}
	return "", fmt.Errorf("unknown kind %q", p.Kind())
}

func listServerPlugins(e env, server, apiKey string) error {
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(server, "/")+"/v1/plugins", nil)
	if err != nil {
		return fmt.Errorf("%w: --server %q: %v", errUsage, server, err)
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ask %s for its plugins: %w", server, err)
	}
	defer resp.Body.Close()
	var out struct {
		Plugins []api.PluginJSON `json:"plugins"`
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && apiKey == "":
		return fmt.Errorf("%s wants an API key: pass --api-key or set SOCCERPREDICT_API_KEY (a key with the admin scope)", server)
	case resp.StatusCode == http.StatusUnauthorized:
		return fmt.Errorf("%s refused the API key: it is unknown or revoked", server)
	case resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s refused the API key: listing plugins needs the admin scope", server)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("ask %s for its plugins: HTTP %s", server, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("ask %s for its plugins: %w", server, err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tKIND\tPATH\tSTATE\tPID\tLAUNCHES\tAPI")
	for _, p := range out.Plugins {
		state := "running"
		if !p.Running {
			state = "stopped"
			if p.LastError != "" {
				state = "failed: " + p.LastError
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", p.Name, p.Kind, p.Path, state, p.PID, p.Launches, p.APIVersion)
	}
	return w.Flush()
}

func runPluginsNew(e env, args []string) error {
	fs, _ := newFlags(e, "plugins new")
	dir := fs.String("dir", "", "the new module's directory (default plugins/<kind>s/NAME in a SoccerPredict checkout, else ./soccer-KIND-NAME)")
	module := fs.String("module", "", "the module path (default the repository's path for it, or example.com/soccer-KIND-NAME outside a checkout)")
	sdk := fs.String("sdk", "", "the sdk module's directory (default: the checkout's sdk/)")
	noTidy := fs.Bool("no-tidy", false, "do not run `go mod tidy` (and `go work use` in a checkout) afterwards")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("%w: plugins new needs KIND (source, features or model) and NAME", errUsage)
	}
	kind, name := fs.Arg(0), fs.Arg(1)
	if _, ok := scaffold.Kinds[kind]; !ok {
		return fmt.Errorf("%w: plugin kind %q is not source, features or model", errUsage, kind)
	}
	if err := scaffold.CheckName(name); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	cwd, _ := os.Getwd()
	root, rootErr := scaffold.Checkout(cwd)
	if *dir == "" {
		*dir = "soccer-" + kind + "-" + name
		if rootErr == nil {
			*dir = filepath.Join(root, "plugins", scaffold.Kinds[kind], name)
		}
	}
	written, err := scaffold.Write(scaffold.Options{Kind: kind, Name: name, Dir: *dir, Module: *module, SDK: *sdk})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s:\n", *dir)
	for _, f := range written {
		fmt.Fprintf(e.stdout, "  %s\n", f)
	}
	if !*noTidy {
		tidy := exec.CommandContext(e.ctx, "go", "mod", "tidy")
		tidy.Dir, tidy.Env = *dir, append(os.Environ(), "GOWORK=off")
		if out, err := tidy.CombinedOutput(); err != nil {
			return fmt.Errorf("go mod tidy in %s: %v\n%s", *dir, err, out)
		}
		if r, err := scaffold.Checkout(*dir); err == nil {
			if _, err := os.Stat(filepath.Join(r, "go.work")); err == nil {
				abs, _ := filepath.Abs(*dir)
				use := exec.CommandContext(e.ctx, "go", "work", "use", abs)
				use.Dir = r
				if out, err := use.CombinedOutput(); err != nil {
					return fmt.Errorf("go work use %s: %v\n%s", *dir, err, out)
				}
				fmt.Fprintf(e.stdout, "added it to %s\n", filepath.Join(r, "go.work"))
			}
		}
	}
	fmt.Fprintf(e.stdout, "\nnext:\n  (cd %s && go test ./...)    # the conformance suite passes as it is\n"+
		"  make build                            # builds bin/soccer-%s-%s and its .sha256\n"+
		"  add %s/config.yaml to your config, then: soccerpredict plugins verify %s\n", *dir, kind, name, *dir, name)
	return nil
}
