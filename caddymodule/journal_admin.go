package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge/journal"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "journal",
		Usage: "USER [--limit N] [--before CURSOR] [--address ADMIN] [--config <file>] [--adapter <name>]",
		Short: "Shows a user's authorization journal, from the running gateway",
		Long: `
Shows the authorization journal of USER: every step in the user's name
(confirmation requested, method chosen, code sent, wrong answer,
confirmed, delivered, attempts exhausted, locked, expired, cancelled,
refused, account changes), newest first, with the operation, amount,
payee (as shown, masked), method, IP address and user agent.

It asks the running gateway through its admin API: --address, else the
admin address of the config (--config, default ./Caddyfile, if there is
one), else localhost:2019. --limit is the page size (1 to 100, default
20); the last line gives the command for the older page (--before).

A failure is one line on stderr, "enumgate: …", and exit status 1.`,
		CobraFunc: journalCobra,
	})
}

// serveJournal answers GET /enumgate/journal/{id}?limit=N&before=CURSOR
// with the user's journal in the form of the customer's API. It does not
// ask the user directory: the journal of a user who is gone can still be
// read (and an unknown user's is empty).
func (a *AdminAPI) serveJournal(w http.ResponseWriter, r *http.Request, seg string) error {
	id, err := url.PathUnescape(seg)
	if err != nil || strings.Contains(seg, "/") || !validUserID(id) {
		return writeAdmin(w, http.StatusBadRequest, adminError{"bad_request", fmt.Sprintf("a user id is 1 to %d bytes of printable UTF-8", maxUserID)})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return writeAdmin(w, http.StatusMethodNotAllowed, adminError{"method_not_allowed", "use GET"})
	}
	limit, before, err := parseJournalQuery(r.URL.Query())
	if err != nil {
		msg := fmt.Sprintf("limit is a whole number from 1 to %d", journal.MaxLimit)
		if err.Error() == "journal_cursor" {
			msg = "before is the next cursor of an earlier page"
		}
		return writeAdmin(w, http.StatusBadRequest, adminError{"bad_request", msg})
	}
	app, err := runningApp()
	if err != nil {
		return writeAdmin(w, http.StatusServiceUnavailable, adminError{"not_configured", err.Error()})
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	page, err := app.journalPage(ctx, id, limit, before)
	if err != nil {
		a.logger.Error("admin request failed", zap.String("user", id), zap.String("action", "journal"), zap.Error(err))
		return writeAdmin(w, http.StatusServiceUnavailable, adminError{"unavailable", "the journal is unavailable; see the gateway's log"})
	}
	return writeAdmin(w, http.StatusOK, page)
}

type journalFlags struct {
	limit                    int
	before, address          string
	config, adapter          string
	configSet, addressIsFlag bool
}

func journalCobra(cmd *cobra.Command) {
	var f journalFlags
	cmd.Args = cobra.ExactArgs(1)
	cmd.SilenceUsage = true
	cmd.SetErrPrefix("enumgate:")
	cmd.Flags().IntVar(&f.limit, "limit", 0, fmt.Sprintf("how many events (1 to %d; default %d)", journal.MaxLimit, journal.DefaultLimit))
	cmd.Flags().StringVar(&f.before, "before", "", "show the events older than this cursor (from the previous page)")
	cmd.Flags().StringVar(&f.address, "address", "", "the gateway's admin address (default: the config's, else localhost:2019)")
	cmd.Flags().StringVarP(&f.config, "config", "c", "", "the gateway's config file, for its admin address (default ./Caddyfile)")
	cmd.Flags().StringVarP(&f.adapter, "adapter", "a", "", "the config adapter (default: by file name)")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		f.configSet = c.Flags().Changed("config")
		f.addressIsFlag = c.Flags().Changed("address")
		if c.Flags().Changed("limit") && (f.limit < 1 || f.limit > journal.MaxLimit) {
			return fmt.Errorf("--limit must be 1 to %d", journal.MaxLimit)
		}
		return oneLine(runJournal(f, args[0], c.OutOrStdout()))
	}
}

// runJournal prints one page of user's journal from the running
// gateway's admin API.
func runJournal(f journalFlags, user string, out io.Writer) error {
	if !validUserID(user) {
		return fmt.Errorf("a user id is 1 to %d bytes of printable UTF-8", maxUserID)
	}
	if f.before != "" {
		if _, _, err := journal.ParseCursor(f.before); err != nil {
			return errors.New("--before is the cursor the previous page printed")
		}
	}
	listen, err := journalAdminAddress(f)
	if err != nil {
		return err
	}
	q := url.Values{}
	if f.limit > 0 {
		q.Set("limit", strconv.Itoa(f.limit))
	}
	if f.before != "" {
		q.Set("before", f.before)
	}
	path := adminPrefix + "journal/" + url.PathEscape(user)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var page JournalPage
	g := &gatewayConfig{admin: caddy.AdminConfig{Listen: listen}}
	if err := g.adminDo(ctx, http.MethodGet, path, nil, &page, user); err != nil {
		return err
	}
	printJournal(out, user, page, f)
	return nil
}

// journalAdminAddress is where the command finds the admin API.
func journalAdminAddress(f journalFlags) (string, error) {
	if f.addressIsFlag {
		if f.address == "" {
			return "", errors.New("--address is empty")
		}
		return f.address, nil
	}
	if !f.configSet {
		if _, err := os.Stat("Caddyfile"); err != nil {
			return caddy.DefaultAdminListen, nil
		}
	}
	g, err := loadGatewayConfig(usersFlags{config: f.config, adapter: f.adapter})
	if err != nil {
		return "", err
	}
	if g.admin.Disabled {
		return "", fmt.Errorf("%s says 'admin off': the journal is read through the gateway's admin API; turn it on (e.g. admin localhost:2019)", g.file)
	}
	if g.admin.Listen == "" {
		return caddy.DefaultAdminListen, nil
	}
	return g.admin.Listen, nil
}

// printJournal writes the page as a table, then the command for the
// older page.
func printJournal(out io.Writer, user string, page JournalPage, f journalFlags) {
	if len(page.Events) == 0 {
		fmt.Fprintf(out, "no journal entries for %s\n", user)
	} else {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tEVENT\tOPERATION\tAMOUNT\tPAYEE\tMETHOD\tIP\tUSER AGENT\tCHALLENGE")
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return strings.Map(func(r rune) rune {
				if r < ' ' || r == '\t' || r == 0x7f {
					return ' '
				}
				return r
			}, s)
		}
		for _, e := range page.Events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), dash(e.Event), dash(e.Operation),
				dash(e.Amount), dash(e.Payee), dash(e.Method), dash(e.IP), dash(e.UserAgent), dash(e.ChallengeID))
		}
		tw.Flush()
	}
	if page.Next != "" {
		more := ""
		if f.limit > 0 {
			more = " --limit " + strconv.Itoa(f.limit)
		}
		if f.addressIsFlag {
			more += " --address " + f.address
		}
		fmt.Fprintf(out, "older: enumgate journal %s --before %s%s\n", user, page.Next, more)
	}
}
