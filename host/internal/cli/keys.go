package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/soccerpredict/soccerpredict/host/internal/api/apikey"
)

func runKeysCreate(e env, args []string) error {
	fs, c := newFlags(e, "keys create")
	name := fs.String("name", "", "who the key is for")
	scopes := fs.String("scopes", apikey.ScopePredict, "comma-separated: predict, admin")
	rate := fs.Int("rate", 600, "requests a minute")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return fmt.Errorf("%w: --name is required", errUsage)
	}
	secret, key, err := apikey.NewKey(*name, strings.Split(*scopes, ","), *rate)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateKey(e.ctx, key); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "key %s for %s (scopes %s, %d requests a minute):\n%s\nit is shown once; only its hash is stored\n",
		key.ID, key.Name, strings.Join(key.Scopes, ","), key.RatePerMinute, secret)
	return err
}

func runKeysList(e env, args []string) error {
	fs, c := newFlags(e, "keys list")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListKeys(e.ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tSCOPES\tRATE/MIN\tCREATED\tSTATE")
	for _, k := range keys {
		state := "active"
		if !k.RevokedAt.IsZero() {
			state = "revoked " + k.RevokedAt.Format(time.DateTime)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.RatePerMinute, k.CreatedAt.Format(time.DateTime), state)
	}
	return w.Flush()
}

func runKeysRevoke(e env, args []string) error {
	fs, c := newFlags(e, "keys revoke")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: name one key ID", errUsage)
	}
	st, err := c.openStore(e)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.RevokeKey(e.ctx, fs.Arg(0)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "revoked %s (servers stop accepting it within auth.cache_for)\n", fs.Arg(0))
	return err
}
