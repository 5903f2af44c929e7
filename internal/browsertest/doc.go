// Package browsertest drives the challenge page in a real browser:
// Chromium, through chromedp, against Caddyfile.example run in this
// process. It holds tests only.
//
// Run it with
//
//	go test ./internal/browsertest/
//
// It needs Chromium (or Chrome) at /usr/bin/chromium, on the PATH, or at
// $ENUMGATE_CHROMIUM. Without a browser the tests skip, except under
// CI=true, where they fail. With -update-screenshots (or
// ENUMGATE_UPDATE_SCREENSHOTS=1) the tests also write the screenshots of
// docs/screenshots/.
package browsertest
