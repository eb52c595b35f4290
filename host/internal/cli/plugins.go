package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api"
	"github.com/soccerpredict/soccerpredict/host/internal/config"
	"github.com/soccerpredict/soccerpredict/host/internal/pluginhost"
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
