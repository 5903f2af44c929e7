package caddymodule

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
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
		Short: "Manages enumgate users: kept in Redis (users redis), or their locks in a running gateway",
		Long: `
Manages the users of a gateway. The commands read its config (--config,
default ./Caddyfile). With 'store redis' they reach the same Redis with
the same secret, so several gateways see a change at once; with the
memory store (the default) 'show' and 'unlock' ask the running gateway
through its admin API (the config's admin address, default
localhost:2019; not with 'admin off').

  users list                      the user ids (users redis)
  users show USER                 a user's record (never the keys) and lock
  users import FILE               add or replace users from a users file (JSON)
  users set USER [flags]          create or change a user (users redis)
  users delete USER               remove a user (users redis)
  users reset-device USER         remove the user's E-num devices (lost phone)
  users unlock USER               lift a lockout after failed confirmations
  users reencrypt                 re-encrypt device keys under the current secret

A failure is one line on stderr, "enumgate: …", and exit status 1
(an unknown user: enumgate: no user "ID").

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

// userCommand is what one `users` subcommand does: with the provisioned
// app (direct access to Redis), or, for show and unlock with the memory
// store, through the running gateway's admin API.
type userCommand struct {
	use, short string
	args       cobra.PositionalArgs
	run        func(ctx context.Context, a *App, args []string, out io.Writer) error
	// admin, if set, runs instead of run when the store lives in the
	// gateway (the memory store).
	admin func(ctx context.Context, g *gatewayConfig, args []string, out io.Writer) error
	// managedUsers: run needs a user directory the commands manage
	// (a UserAdminModule, such as users redis).
	managedUsers bool
}

func usersCobra(cmd *cobra.Command) {
	var f usersFlags
	cmd.PersistentFlags().StringVarP(&f.config, "config", "c", "", "the gateway's config file (default ./Caddyfile)")
	cmd.PersistentFlags().StringVarP(&f.adapter, "adapter", "a", "", "the config adapter (default: by file name)")
	// Every failure is one line on stderr, "enumgate: …", and exit 1.
	cmd.SetErrPrefix("enumgate:")
	sub := func(uc userCommand) *cobra.Command {
		return &cobra.Command{Use: uc.use, Short: uc.short, Args: uc.args, SilenceUsage: true, RunE: func(c *cobra.Command, args []string) error {
			return oneLine(runUsersCommand(f, uc, args, c.OutOrStdout()))
		}}
	}
	set := sub(userCommand{use: "set USER", short: "Create or change a user", args: cobra.ExactArgs(1), managedUsers: true,
		run: func(ctx context.Context, a *App, args []string, out io.Writer) error {
			return usersSet(ctx, a, args[0], f, out)
		}})
	set.Flags().StringVar(&f.phone, "phone", "", "E.164 phone number for SMS codes ('-' removes it)")
	set.Flags().StringArrayVar(&f.emails, "email", nil, "e-mail address (repeat; the first is primary)")
	set.Flags().StringVar(&f.notify, "notify", "", "e-mail notifications of confirmed and rejected operations: on or off")
	set.Flags().StringVar(&f.newDevice, "new-device", "", "add a device with a fresh key named NAME and print its enrolment URI")
	set.Flags().StringVar(&f.deviceKey, "device-key", "", "add a device with this key (hex)")
	set.Flags().StringVar(&f.deviceName, "device-name", "phone", "the name of the --device-key device")
	set.Flags().StringVar(&f.suite, "suite", challenge.DefaultSuite, "the OCRA suite of the new device")
	set.Flags().StringVar(&f.issr, "issuer", "enumgate", "the issuer shown in the E-num app")
	cmd.AddCommand(
		sub(userCommand{use: "list", short: "List user ids", args: cobra.NoArgs, managedUsers: true,
			run: func(ctx context.Context, a *App, _ []string, out io.Writer) error {
				ids, err := a.userAdmin().List(ctx)
				for _, id := range ids {
					fmt.Fprintln(out, id)
				}
				return err
			}}),
		sub(userCommand{use: "show USER", short: "Show a user's record without keys, and the lock", args: cobra.ExactArgs(1),
			run: func(ctx context.Context, a *App, args []string, out io.Writer) error {
				return showUser(ctx, a, args[0], out)
			},
			admin: func(ctx context.Context, g *gatewayConfig, args []string, out io.Writer) error {
				var info UserInfo
				if err := g.adminCall(ctx, http.MethodGet, args[0], "", &info); err != nil {
					return err
				}
				return printJSON(out, info)
			}}),
		sub(userCommand{use: "import FILE", short: "Add or replace users from a users file", args: cobra.ExactArgs(1), managedUsers: true,
			run: func(ctx context.Context, a *App, args []string, out io.Writer) error {
				data, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				n, err := a.userAdmin().Import(ctx, data)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "imported %d users\n", n)
				return nil
			}}),
		set,
		sub(userCommand{use: "delete USER", short: "Remove a user", args: cobra.ExactArgs(1), managedUsers: true,
			run: func(ctx context.Context, a *App, args []string, out io.Writer) error {
				return noUser(args[0], a.userAdmin().Delete(ctx, args[0]))
			}}),
		sub(userCommand{use: "reset-device USER", short: "Remove a user's E-num devices (lost phone; recovery through support)", args: cobra.ExactArgs(1), managedUsers: true,
			run: func(ctx context.Context, a *App, args []string, out io.Writer) error {
				if err := noUser(args[0], a.userAdmin().ResetDevice(ctx, args[0])); err != nil {
					return err
				}
				fmt.Fprintf(out, "removed the E-num devices of %s; enrol a new one with: enumgate users set %s --new-device phone\n", args[0], args[0])
				return nil
			}}),
		sub(userCommand{use: "unlock USER", short: "Lift a lockout after failed confirmations", args: cobra.ExactArgs(1),
			run: func(ctx context.Context, a *App, args []string, out io.Writer) error {
				if err := noUser(args[0], a.unlockUser(ctx, args[0])); err != nil {
					return err
				}
				fmt.Fprintf(out, "unlocked %s\n", args[0])
				return nil
			},
			admin: func(ctx context.Context, g *gatewayConfig, args []string, out io.Writer) error {
				var res Unlocked
				if err := g.adminCall(ctx, http.MethodPost, args[0], "/unlock", &res); err != nil {
					return err
				}
				fmt.Fprintf(out, "unlocked %s\n", res.User)
				return nil
			}}),
		sub(userCommand{use: "reencrypt", short: "Re-encrypt device keys under the current secret", args: cobra.NoArgs, managedUsers: true,
			run: func(ctx context.Context, a *App, _ []string, out io.Writer) error {
				n, err := a.userAdmin().Reencrypt(ctx)
				fmt.Fprintf(out, "re-encrypted %d users\n", n)
				return err
			}}),
	)
}

// oneLine makes err one line without the "enumgate: " its parts may
// start with (cobra prints it after the "enumgate:" prefix).
func oneLine(err error) error {
	if err == nil {
		return nil
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	for {
		trimmed := strings.TrimPrefix(msg, "enumgate: ")
		if trimmed == msg {
			break
		}
		msg = trimmed
	}
	return errors.New(msg)
}

// noUser turns an error wrapping challenge.ErrNoUser into `no user "ID"`.
func noUser(id string, err error) error {
	if errors.Is(err, challenge.ErrNoUser) {
		return fmt.Errorf("no user %q", id)
	}
	return err
}

// runUsersCommand loads the config and runs uc: through the admin API when
// the store lives in the gateway and uc can, else with the app.
func runUsersCommand(f usersFlags, uc userCommand, args []string, out io.Writer) error {
	g, err := loadGatewayConfig(f)
	if err != nil {
		return err
	}
	if len(args) == 1 && strings.HasSuffix(uc.use, " USER") && !validUserID(args[0]) {
		return fmt.Errorf("a user id is 1 to %d bytes of printable UTF-8", maxUserID)
	}
	if uc.managedUsers && !managesUsers(g.users) {
		return errNotManaged
	}
	if storeInGateway(g.store) {
		if uc.admin == nil {
			return fmt.Errorf("the config's store is %s: the command needs store redis", g.store)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return uc.admin(ctx, g, args, out)
	}
	return g.withApp(func(ctx context.Context, a *App) error {
		if _, ok := a.usersMod.(UserAdminModule); uc.managedUsers && !ok {
			return errNotManaged
		}
		return uc.run(ctx, a, args, out)
	})
}

// errNotManaged refuses a command that changes users when the config's
// user directory is not one the commands manage.
var errNotManaged = errors.New("the config does not say 'users redis': a users file is the operator's own file, edit it instead")

// managesUsers reports whether the users source names a user directory
// module that the commands manage (a UserAdminModule).
func managesUsers(source string) bool {
	info, err := caddy.GetModule("enumgate.users." + source)
	if err != nil || source == "" {
		return false
	}
	_, ok := info.New().(UserAdminModule)
	return ok
}

// storeInGateway reports whether the store backend keeps its state in
// the running gateway (any store that is not a SharedStoreModule saying
// so, such as the memory store), which the commands then reach through
// the admin API. An unknown backend is not: provisioning it tells why.
func storeInGateway(backend string) bool {
	info, err := caddy.GetModule("enumgate.stores." + backend)
	if err != nil {
		return false
	}
	sh, ok := info.New().(SharedStoreModule)
	return !ok || !sh.SharedStore()
}

// userAdmin returns the app's user directory as the commands manage it;
// runUsersCommand has checked that it is a UserAdminModule.
func (a *App) userAdmin() UserAdmin { return a.usersMod.(UserAdminModule).UserAdmin() }

// gatewayConfig is what the users commands read from the gateway's config.
type gatewayConfig struct {
	file  string          // the config file
	app   json.RawMessage // the enumgate app's JSON
	store string          // the store backend: "memory" (default) or "redis"
	users string          // the users source: "file" or "redis"
	admin caddy.AdminConfig
}

// loadGatewayConfig reads and adapts the config file (--config, default
// ./Caddyfile) the way `caddy run` does, without logging.
func loadGatewayConfig(f usersFlags) (*gatewayConfig, error) {
	path := f.config
	if path == "" {
		path = "Caddyfile"
	}
	body, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && f.config == "":
		return nil, errors.New("no config: ./Caddyfile not found (use --config)")
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no config: %s not found", path)
	case err != nil:
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	adapter := f.adapter
	if base := filepath.Base(path); adapter == "" && (strings.HasPrefix(base, "Caddyfile") || filepath.Ext(base) == ".caddyfile") {
		adapter = "caddyfile"
	}
	cfgJSON := body
	if adapter != "" && adapter != "json" {
		ad := caddyconfig.GetAdapter(adapter)
		if ad == nil {
			return nil, fmt.Errorf("unknown config adapter %q", adapter)
		}
		if cfgJSON, _, err = ad.Adapt(body, map[string]any{"filename": path}); err != nil {
			return nil, fmt.Errorf("adapting %s: %w", path, err)
		}
	}
	var cfg struct {
		Admin *caddy.AdminConfig         `json:"admin"`
		Apps  map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		return nil, fmt.Errorf("%s is not a JSON config (give --adapter caddyfile for a Caddyfile): %w", path, err)
	}
	g := &gatewayConfig{file: path, app: cfg.Apps["enumgate"], store: "memory"}
	if g.app == nil {
		return nil, fmt.Errorf("%s has no enumgate app (global option enumgate { … })", path)
	}
	if cfg.Admin != nil {
		g.admin = *cfg.Admin
	}
	var peek struct {
		Store struct {
			Backend string `json:"backend"`
		} `json:"store"`
		Users struct {
			Source string `json:"source"`
		} `json:"users"`
	}
	if err := json.Unmarshal(g.app, &peek); err != nil {
		return nil, fmt.Errorf("%s: the enumgate app: %w", path, err)
	}
	if peek.Store.Backend != "" {
		g.store = peek.Store.Backend
	}
	g.users = peek.Users.Source
	return g, nil
}

// withApp provisions the config's enumgate app (its store, users and
// secret) and runs fn with it. Caddy's logs are silenced: the command
// reports its own failure, once.
func (g *gatewayConfig) withApp(fn func(ctx context.Context, a *App) error) error {
	base, err := quietContext()
	if err != nil {
		return err
	}
	a := new(App)
	if err := json.Unmarshal(g.app, a); err != nil {
		return fmt.Errorf("%s: the enumgate app: %w", g.file, err)
	}
	cctx, cancel := caddy.NewContext(base)
	defer cancel() // cleans up the store and users modules
	if err := a.Provision(cctx); err != nil {
		return redisDown(err)
	}
	ctx, stop := context.WithTimeout(cctx, time.Minute)
	defer stop()
	return redisDown(fn(ctx, a))
}

// withApp loads the config of f, provisions its app and runs fn with it.
func withApp(f usersFlags, fn func(ctx context.Context, a *App) error) error {
	g, err := loadGatewayConfig(f)
	if err != nil {
		return err
	}
	return g.withApp(fn)
}

// quietContext returns a Caddy context whose logs go nowhere a user would
// see them: modules provisioned in it do not print (no development
// logger, no stack traces), and errors come back as errors. The default
// log keeps stderr, so Caddy does not announce a redirect, but takes
// nothing below FATAL.
func quietContext() (caddy.Context, error) {
	var cfg caddy.Config
	err := json.Unmarshal([]byte(`{"logging": {"logs": {"default": {"writer": {"output": "stderr"}, "level": "FATAL"}}}}`), &cfg)
	if err != nil {
		return caddy.Context{}, err
	}
	return caddy.ProvisionContext(&cfg)
}

// redisDown names an unreachable Redis plainly.
func redisDown(err error) error {
	if err == nil {
		return nil
	}
	if op, ok := errors.AsType[*net.OpError](err); ok {
		addr := ""
		if op.Addr != nil {
			addr = " at " + op.Addr.String()
		}
		return fmt.Errorf("cannot reach Redis%s: %v", addr, op.Err)
	}
	return err
}

// adminCall calls the running gateway's admin API for user id (path
// after /enumgate/users/{id}) and decodes a 200 answer into v.
func (g *gatewayConfig) adminCall(ctx context.Context, method, id, path string, v any) error {
	return g.adminDo(ctx, method, adminPrefix+"users/"+url.PathEscape(id)+path, nil, v, id)
}

// adminDo calls the running gateway's admin API at path (with a JSON
// body, if any) and decodes a 2xx answer into v; id names the user for
// an unknown_user answer.
func (g *gatewayConfig) adminDo(ctx context.Context, method, path string, body []byte, v any, id string) error {
	if g.admin.Disabled {
		return fmt.Errorf("%s says 'admin off': with store memory the users' locks live in the running gateway, reached through its admin API; turn it on (e.g. admin localhost:2019) or use store redis", g.file)
	}
	listen := g.admin.Listen
	if listen == "" {
		listen = caddy.DefaultAdminListen
	}
	addr, err := caddy.ParseNetworkAddress(listen)
	if err != nil || addr.PortRangeSize() > 1 {
		return fmt.Errorf("the admin address %q is not one address", listen)
	}
	origin := "http://" + addr.JoinHostPort(0)
	dial := addr.JoinHostPort(0)
	if addr.IsUnixNetwork() {
		origin = "http://127.0.0.1"
		dial, _, _ = strings.Cut(addr.Host, "|") // drop the socket's permission bits
	} else if addr.IsFdNetwork() {
		return fmt.Errorf("the admin address %q is a file descriptor: the command cannot reach it", listen)
	}
	req, err := http.NewRequestWithContext(ctx, method, origin+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !addr.IsUnixNetwork() {
		req.Header.Set("Origin", origin)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, addr.Network, dial)
		},
	}}
	resp, err := client.Do(req)
	if err != nil {
		msg := err.Error()
		if op, ok := errors.AsType[*net.OpError](err); ok {
			msg = op.Err.Error()
		}
		return fmt.Errorf("cannot reach the gateway's admin API at %s (is the gateway running?): %s", listen, msg)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("admin API at %s: reading the answer: %w", listen, err)
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(answer, v); err != nil {
			return fmt.Errorf("admin API at %s: unexpected answer: %w", listen, err)
		}
		return nil
	}
	var e adminError
	json.Unmarshal(answer, &e)
	switch {
	case resp.StatusCode == http.StatusNotFound && e.Error == "unknown_user":
		return fmt.Errorf("no user %q", id)
	case resp.StatusCode == http.StatusNotFound && e.Error != "" && e.Error != "not_found" && e.Message != "":
		return errors.New(e.Message)
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("the gateway at %s has no enumgate admin API (is it an enumgate build?)", listen)
	case e.Error != "":
		msg := e.Error
		if e.Message != "" {
			msg = e.Message
		}
		return fmt.Errorf("admin API at %s: %d %s", listen, resp.StatusCode, msg)
	}
	return fmt.Errorf("admin API at %s: %s", listen, resp.Status)
}

// showUser prints user id's record (users redis: the record without keys)
// or what the gateway knows (a users file: masked), with the lock.
func showUser(ctx context.Context, a *App, id string, out io.Writer) error {
	ua, ok := a.usersMod.(UserAdminModule)
	if !ok {
		info, err := a.userInfo(ctx, id)
		if err != nil {
			return noUser(id, err)
		}
		return printJSON(out, info)
	}
	r, err := ua.UserAdmin().Get(ctx, id)
	if err != nil {
		return noUser(id, err)
	}
	until, err := a.store.LockedUntil(ctx, id, time.Now())
	if err != nil {
		return fmt.Errorf("reading the lock of %s: %w", id, err)
	}
	shown := struct {
		userdir.Record
		LockedUntil *time.Time `json:"locked_until,omitempty"`
	}{Record: r}
	if !until.IsZero() {
		t := until.UTC()
		shown.LockedUntil = &t
	}
	return printJSON(out, shown)
}

func printJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func usersSet(ctx context.Context, a *App, id string, f usersFlags, out io.Writer) error {
	d := a.userAdmin()
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
