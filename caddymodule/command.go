package caddymodule

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	"github.com/enumgate/enumgate/challenge"
)

func init() {
	fs := flag.NewFlagSet("confirm-key", flag.ExitOnError)
	fs.String("secret", "", "the gateway's secret (default: $ENUMGATE_SECRET)")
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "confirm-key",
		Usage: "[--secret <secret>]",
		Short: "Prints the key upstreams use to verify Enumgate-Confirmed headers",
		Long: `
Prints, in hexadecimal, the HMAC-SHA256 key derived from the gateway's
secret that signs the Enumgate-Confirmed header of replayed requests.
Give this key to upstream applications that verify the header; never give
them the secret itself. The secret is read from --secret or, by default,
from the ENUMGATE_SECRET environment variable.`,
		Flags: fs,
		Func:  cmdConfirmKey,
	})
}

func cmdConfirmKey(fl caddycmd.Flags) (int, error) {
	secret := fl.String("secret")
	if secret == "" {
		secret = os.Getenv("ENUMGATE_SECRET")
	}
	if len(secret) < 16 {
		return 1, errors.New("a secret of at least 16 bytes is required (--secret or ENUMGATE_SECRET)")
	}
	fmt.Println(hex.EncodeToString(challenge.ConfirmKey([]byte(secret))))
	return 0, nil
}
