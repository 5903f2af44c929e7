package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/enumgate/enumgate/challenge"
	"github.com/enumgate/enumgate/challenge/ocra/enroll"
	"github.com/enumgate/enumgate/challenge/userdir"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "users",
		Usage: "<list|show|import|set|delete|reset-device|unlock|reencrypt> [args] [--config <file>] [--adapter <name>]",
		Short: "Manages enumgate users kept in Redis (users redis)",
		Long: `
Manages the users of a gateway whose config says 'users redis': the
commands read the config (--config, default ./Caddyfile) to reach the same
Redis with the same secret, so several gateways see a change at once.

  users list                      the user ids
  users show USER                 a user's record (never the keys)
  users import FILE               add or replace users from a users file (JSON)
  users set USER [flags]          create or change a user
  users delete USER               remove a user
  users reset-device USER         remove the user's E-num devices (lost phone)
  users unlock USER               lift a lockout after failed confirmations
  users reencrypt                 re-encrypt device keys under the current secret

'users set' flags: --phone, --email (repeat; the first is primary),
--notify on|off, --new-device NAME (generates a key and prints the
enrolment URI for 'enum enroll'), --device-key HEX with --device-name,
--suite (default OCRA-1:HOTP-SHA256-8:QN08), --issuer (shown in the app).`,
		CobraFunc: usersCobra,
	})
}

type usersFlags struct {
	config, adapter        string
	phone                  string
	emails                 []string
	notify                 string
	newDevice, deviceName  string
	deviceKey, suite, issr string
}

func usersCobra(cmd *cobra.Command) {
	var f usersFlags
	cmd.PersistentFlags().StringVarP(&f.config, "config", "c", "", "the gateway's config file (default ./Caddyfile)")
	cmd.PersistentFlags().StringVarP(&f.adapter, "adapter", "a", "", "the config adapter (default: by file name)")
	sub := func(use, short string, args cobra.PositionalArgs, run func(ctx context.Context, a *App, args []string, out io.Writer) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: args, SilenceUsage: true, RunE: func(c *cobra.Command, args []string) error {
			return withApp(f, func(ctx context.Context, a *App) error { return run(ctx, a, args, c.OutOrStdout()) })
		}}
	}
	set := sub("set USER", "Create or change a user", cobra.ExactArgs(1), func(ctx context.Context, a *App, args []string, out io.Writer) error {
		return usersSet(ctx, a, args[0], f, out)
	})
	set.Flags().StringVar(&f.phone, "phone", "", "E.164 phone number for SMS codes ('-' removes it)")
	set.Flags().StringArrayVar(&f.emails, "email", nil, "e-mail address (repeat; the first is primary)")
	set.Flags().StringVar(&f.notify, "notify", "", "e-mail notifications of confirmed and rejected operations: on or off")
	set.Flags().StringVar(&f.newDevice, "new-device", "", "add a device with a fresh key named NAME and print its enrolment URI")
	set.Flags().StringVar(&f.deviceKey, "device-key", "", "add a device with this key (hex)")
	set.Flags().StringVar(&f.deviceName, "device-name", "phone", "the name of the --device-key device")
	set.Flags().StringVar(&f.suite, "suite", challenge.DefaultSuite, "the OCRA suite of the new device")
	set.Flags().StringVar(&f.issr, "issuer", "enumgate", "the issuer shown in the E-num app")
	cmd.AddCommand(
		sub("list", "List user ids", cobra.NoArgs, func(ctx context.Context, a *App, _ []string, out io.Writer) error {
			d, err := redisDir(a)
			if err != nil {
				return err
			}
			ids, err := d.List(ctx)
			for _, id := range ids {
				fmt.Fprintln(out, id)
			}
			return err
		}),
		sub("show USER", "Show a user's record without keys", cobra.ExactArgs(1), func(ctx context.Context, a *App, args []string, out io.Writer) error {
			d, err := redisDir(a)
			if err != nil {
				return err
			}
			r, err := d.Get(ctx, args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(r)
		}),
		sub("import FILE", "Add or replace users from a users file", cobra.ExactArgs(1), func(ctx context.Context, a *App, args []string, out io.Writer) error {
			d, err := redisDir(a)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			n, err := d.Import(ctx, data)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "imported %d users\n", n)
			return nil
		}),
		set,
		sub("delete USER", "Remove a user", cobra.ExactArgs(1), func(ctx context.Context, a *App, args []string, out io.Writer) error {
			d, err := redisDir(a)
			if err != nil {
				return err
			}
			return d.Delete(ctx, args[0])
		}),
		sub("reset-device USER", "Remove a user's E-num devices (lost phone; recovery through support)", cobra.ExactArgs(1), func(ctx context.Context, a *App, args []string, out io.Writer) error {
			d, err := redisDir(a)
			if err != nil {
				return err
			}
			if err := d.ResetDevice(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "removed the E-num devices of %s; enrol a new one with: enumgate users set %s --new-device phone\n", args[0], args[0])
			return nil
		}),
		sub("unlock USER", "Lift a lockout after failed confirmations", cobra.ExactArgs(1), func(ctx context.Context, a *App, args []string, out io.Writer) error {
			rs, ok := a.storeMod.(*RedisStore)
			if !ok {
				return errors.New("unlock needs store redis: a memory store lives inside the running gateway")
			}
			return rs.ChallengeStore().Unlock(ctx, args[0])
		}),
		sub("reencrypt", "Re-encrypt device keys under the current secret", cobra.NoArgs, func(ctx context.Context, a *App, _ []string, out io.Writer) error {
			d, err := redisDir(a)
			if err != nil {
				return err
			}
			n, err := d.Reencrypt(ctx)
			fmt.Fprintf(out, "re-encrypted %d users\n", n)
			return err
		}),
	)
}

// withApp provisions the config's enumgate app (its store, users and
// secret) and runs fn with it.
func withApp(f usersFlags, fn func(ctx context.Context, a *App) error) error {
	cfgJSON, _, _, err := caddycmd.LoadConfig(f.config, f.adapter)
	if err != nil {
		return err
	}
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return err
	}
	raw, ok := cfg.Apps["enumgate"]
	if !ok {
		return errors.New("the config has no enumgate app (global option enumgate { … })")
	}
	a := new(App)
	if err := json.Unmarshal(raw, a); err != nil {
		return err
	}
	cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := a.Provision(cctx); err != nil {
		return err
	}
	if ru, ok := a.usersMod.(*RedisUsers); ok {
		defer ru.Cleanup()
	}
	if rs, ok := a.storeMod.(*RedisStore); ok {
		defer rs.Cleanup()
	}
	ctx, stop := context.WithTimeout(cctx, time.Minute)
	defer stop()
	return fn(ctx, a)
}

func redisDir(a *App) (*userdir.Dir, error) {
	ru, ok := a.usersMod.(*RedisUsers)
	if !ok {
		return nil, errors.New("the config does not say 'users redis': a users file is the operator's own file, edit it instead")
	}
	return ru.Dir(), nil
}

func usersSet(ctx context.Context, a *App, id string, f usersFlags, out io.Writer) error {
	d, err := redisDir(a)
	if err != nil {
		return err
	}
	r, err := d.Get(ctx, id)
	if errors.Is(err, challenge.ErrNoUser) {
		r, err = userdir.Record{ID: id}, nil
	}
	if err != nil {
		return err
	}
	switch f.phone {
	case "":
	case "-":
		r.Phone = ""
	default:
		r.Phone = f.phone
	}
	if len(f.emails) > 0 {
		r.Emails = f.emails
	}
	switch f.notify {
	case "":
	case "on":
		r.Notify = true
	case "off":
		r.Notify = false
	default:
		return fmt.Errorf("--notify takes on or off, not %q", f.notify)
	}
	var uri string
	switch {
	case f.newDevice != "" && f.deviceKey != "":
		return errors.New("give --new-device or --device-key, not both")
	case f.newDevice != "":
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		r.Devices = append(r.Devices, userdir.DeviceRecord{Name: f.newDevice, Suite: f.suite, Key: key})
		uri = enroll.Enrollment{Issuer: f.issr, Account: id, Suite: f.suite, Key: key}.URI()
	case f.deviceKey != "":
		key, err := hex.DecodeString(strings.TrimSpace(f.deviceKey))
		if err != nil {
			return fmt.Errorf("--device-key: %w", err)
		}
		r.Devices = append(r.Devices, userdir.DeviceRecord{Name: f.deviceName, Suite: f.suite, Key: key})
	}
	if err := d.Put(ctx, r); err != nil {
		return err
	}
	if uri != "" {
		fmt.Fprintf(out, "enrol the new device with:\n  enum enroll '%s'\n", uri)
	}
	return nil
}
