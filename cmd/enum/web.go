package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/enumgate/enumgate/enumapp"
)

// defaultListen is where enum web listens by default: this machine only.
const defaultListen = "127.0.0.1:8090"

// webContext is the lifetime of enum web: until SIGINT or SIGTERM; tests
// replace it.
var webContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func cmdWeb(args []string, stdout io.Writer) error {
	fs := newFlags("web")
	listen := fs.String("listen", defaultListen, "the `ADDR` (host:port) to serve the E-num web app on")
	pos, err := parseFlags(fs, args, "[--listen ADDR]\n"+
		"  serves the E-num web app (embedded in this binary) at http://ADDR/ until interrupted;\n"+
		"  browsers allow its cryptography and offline mode on localhost or over HTTPS only", stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return badInput("web: unexpected argument %q", pos[0])
	}
	if _, _, err := net.SplitHostPort(*listen); err != nil {
		return badInput("web: --listen: %q is not host:port (e.g. %s)", *listen, defaultListen)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           enumapp.New(""),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	ctx, stop := webContext()
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	fmt.Fprintf(stdout, "serving the E-num app at http://%s/ (Ctrl-C to stop)\n", l.Addr())
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
