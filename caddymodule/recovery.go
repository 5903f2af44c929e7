package caddymodule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge/account"
)

// Recovery of access through support: a customer who lost their device
// opens a request (account page or API); an operator lists the requests
// and, after checking the customer's identity out of band, closes one,
// optionally resetting the device so the customer enrols anew. No
// self-service path bypasses the operator.

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "recovery",
		Usage: "<list|close> [args] [--config <file>]",
		Short: "Lists and closes customers' requests to recover access (lost device)",
		Long: `
Works on the running gateway through its admin API (the config's admin
address, default localhost:2019; not with 'admin off').

  recovery list [--all]                      open requests (--all: closed too)
  recovery close ID [--reset-device] [--note TEXT]
                                             close a request after checking the
                                             customer's identity; --reset-device
                                             removes their E-num device so they
                                             enrol anew from the account page

A failure is one line on stderr, "enumgate: …", and exit status 1.`,
		CobraFunc: recoveryCobra,
	})
}

// RecoveryInfo is a recovery request as the admin API shows it.
type RecoveryInfo struct {
	ID          string     `json:"id"`
	User        string     `json:"user"`
	State       string     `json:"state"`
	Opened      time.Time  `json:"opened"`
	Closed      *time.Time `json:"closed,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	Contact     string     `json:"contact,omitempty"`
	ResetDevice bool       `json:"reset_device,omitempty"`
	Note        string     `json:"note,omitempty"`
}

// Recoveries is the answer of GET /enumgate/recovery.
type Recoveries struct {
	Requests []RecoveryInfo `json:"requests"`
}

// RecoveryClose is the body of POST /enumgate/recovery/{id}/close.
type RecoveryClose struct {
	ResetDevice bool   `json:"reset_device"`
	Note        string `json:"note"`
}

func recoveryInfo(r *account.Recovery) RecoveryInfo {
	i := RecoveryInfo{ID: r.ID, User: r.User, State: r.State, Opened: r.Opened.UTC(), Reason: r.Reason,
		Contact: r.Contact, ResetDevice: r.ResetDevice, Note: r.Note}
	if !r.Closed.IsZero() {
		t := r.Closed.UTC()
		i.Closed = &t
	}
	return i
}

// serveRecovery serves the admin routes
//
//	GET  /enumgate/recovery[?all=1]        the requests, oldest first
//	GET  /enumgate/recovery/{id}           one request
//	POST /enumgate/recovery/{id}/close     {"reset_device": bool, "note": "…"}
func (a *AdminAPI) serveRecovery(w http.ResponseWriter, r *http.Request, rest string) error {
	app, err := runningApp()
	if err != nil {
		return writeAdmin(w, http.StatusServiceUnavailable, adminError{"not_configured", err.Error()})
	}
	if app.account == nil {
		return writeAdmin(w, http.StatusNotFound, adminError{"not_found", "the running config keeps no customer accounts"})
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	id, action, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case id == "":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return writeAdmin(w, http.StatusMethodNotAllowed, adminError{"method_not_allowed", "use GET"})
		}
		list, err := app.account.Recoveries(ctx, r.URL.Query().Get("all") == "")
		if err != nil {
			return a.recoveryError(w, err)
		}
		out := Recoveries{Requests: []RecoveryInfo{}}
		for i := range list {
			out.Requests = append(out.Requests, recoveryInfo(&list[i]))
		}
		return writeAdmin(w, http.StatusOK, out)
	case action == "":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return writeAdmin(w, http.StatusMethodNotAllowed, adminError{"method_not_allowed", "use GET"})
		}
		rc, err := app.account.Recovery(ctx, id)
		if err != nil {
			return a.recoveryError(w, err)
		}
		return writeAdmin(w, http.StatusOK, recoveryInfo(rc))
	case action == "close":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			return writeAdmin(w, http.StatusMethodNotAllowed, adminError{"method_not_allowed", "use POST"})
		}
		var req RecoveryClose
		dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			return writeAdmin(w, http.StatusBadRequest, adminError{"bad_request", `send {"reset_device": true|false, "note": "…"}`})
		}
		rc, err := app.account.CloseRecovery(ctx, id, req.ResetDevice, req.Note)
		if err != nil {
			return a.recoveryError(w, err)
		}
		a.logger.Info("recovery request closed by the operator", zap.String("recovery", rc.ID), zap.String("user", rc.User), zap.Bool("reset_device", rc.ResetDevice))
		return writeAdmin(w, http.StatusOK, recoveryInfo(rc))
	}
	return writeAdmin(w, http.StatusNotFound, adminError{"not_found", "no such enumgate admin route"})
}

func (a *AdminAPI) recoveryError(w http.ResponseWriter, err error) error {
	switch {
	case errors.Is(err, account.ErrUnknownRecovery):
		return writeAdmin(w, http.StatusNotFound, adminError{"unknown_recovery", "no such recovery request"})
	case errors.Is(err, account.ErrInvalid):
		return writeAdmin(w, http.StatusBadRequest, adminError{"bad_request", err.Error()})
	}
	a.logger.Error("admin recovery request failed", zap.Error(err))
	return writeAdmin(w, http.StatusServiceUnavailable, adminError{"unavailable", "the account store is unavailable; see the gateway's log"})
}

func recoveryCobra(cmd *cobra.Command) {
	var f usersFlags
	var all, reset bool
	var note string
	cmd.PersistentFlags().StringVarP(&f.config, "config", "c", "", "the gateway's config file (default ./Caddyfile)")
	cmd.PersistentFlags().StringVarP(&f.adapter, "adapter", "a", "", "the config adapter (default: by file name)")
	cmd.SetErrPrefix("enumgate:")
	run := func(fn func(ctx context.Context, g *gatewayConfig, out io.Writer) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, _ []string) error {
			g, err := loadGatewayConfig(f)
			if err != nil {
				return oneLine(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			return oneLine(fn(ctx, g, c.OutOrStdout()))
		}
	}
	list := &cobra.Command{Use: "list", Short: "List recovery requests", Args: cobra.NoArgs, SilenceUsage: true,
		RunE: run(func(ctx context.Context, g *gatewayConfig, out io.Writer) error {
			path := adminPrefix + "recovery"
			if all {
				path += "?all=1"
			}
			var res Recoveries
			if err := g.adminDo(ctx, http.MethodGet, path, nil, &res, ""); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tSTATE\tOPENED\tCONTACT\tREASON")
			for _, r := range res.Requests {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.User, r.State, r.Opened.Format(time.RFC3339), r.Contact, oneLineText(r.Reason))
			}
			return tw.Flush()
		})}
	list.Flags().BoolVar(&all, "all", false, "closed requests too")
	var closeArgs []string
	closeCmd := &cobra.Command{Use: "close ID", Short: "Close a recovery request after checking the customer's identity", Args: cobra.ExactArgs(1), SilenceUsage: true,
		PreRun: func(_ *cobra.Command, args []string) { closeArgs = args },
		RunE: run(func(ctx context.Context, g *gatewayConfig, out io.Writer) error {
			body, _ := json.Marshal(RecoveryClose{ResetDevice: reset, Note: note})
			var res RecoveryInfo
			if err := g.adminDo(ctx, http.MethodPost, adminPrefix+"recovery/"+url.PathEscape(closeArgs[0])+"/close", body, &res, ""); err != nil {
				return err
			}
			fmt.Fprintf(out, "closed %s of %s", res.ID, res.User)
			if res.ResetDevice {
				fmt.Fprint(out, "; the E-num device was reset: the customer enrols anew from the account page")
			}
			fmt.Fprintln(out)
			return nil
		})}
	closeCmd.Flags().BoolVar(&reset, "reset-device", false, "remove the customer's E-num device")
	closeCmd.Flags().StringVar(&note, "note", "", "a note kept with the request (never shown to the customer)")
	cmd.AddCommand(list, closeCmd)
}

// oneLineText cuts s to one short line for a table.
func oneLineText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return s
}
