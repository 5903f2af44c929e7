// Package enumapp is the E-num web app: an installable web app (PWA) that
// enrols device keys from enumgate's enrolment URIs and answers its
// questions with OCRA (RFC 6287) in the browser, the keys kept in the
// browser's IndexedDB only and optionally sealed under a PIN. It is plain
// HTML, CSS and JavaScript with no build step, embedded in the Go binary;
// [New] returns the http.Handler that serves it with a strict
// Content-Security-Policy (no inline script, no third-party requests).
//
// The app needs a secure context (HTTPS, or http://localhost) for
// WebCrypto and its service worker. Serve it on an origin of its own, not
// the gateway's or the bank's: IndexedDB and service workers are per
// origin, so script anywhere on that origin could read the keys.
package enumapp

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed web
var embedded embed.FS

// CSP is the Content-Security-Policy of every response: the app's own
// scripts, styles, images, manifest and worker only; nothing framed,
// posted or fetched elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
	"connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// versionPlaceholder in sw.js is replaced by [Version].
const versionPlaceholder = "__ENUM_APP_VERSION__"

// file is one file of the app, ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

var (
	files   = map[string]*file{}
	version string
)

func init() {
	sub, err := fs.Sub(embedded, "web")
	if err != nil {
		panic(err)
	}
	var names []string
	fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	sort.Strings(names)
	all := sha256.New()
	for _, n := range names {
		b, err := fs.ReadFile(sub, n)
		if err != nil {
			panic(err)
		}
		all.Write([]byte(n + "\x00"))
		all.Write(b)
		files[n] = &file{body: b, ctype: contentType(n)}
	}
	version = hex.EncodeToString(all.Sum(nil))[:16]
	sw := files["sw.js"]
	sw.body = bytes.ReplaceAll(sw.body, []byte(versionPlaceholder), []byte(version))
	for _, f := range files {
		sum := sha256.Sum256(f.body)
		f.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	}
}

// Version identifies the embedded files: a hash of all of them. The
// service worker caches under it, so a new build replaces the cache.
func Version() string { return version }

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".md", ".LICENSE":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// New returns the handler of the app mounted at prefix ("" for the root
// of the origin, or a path such as "/app" without a trailing slash). It
// serves GET and HEAD of the app's files under prefix+"/", redirects
// prefix itself to prefix+"/", and answers 404 for any other path and 405
// for other methods. Every response carries [CSP] and the other security
// headers; files are revalidated with ETags (the service worker keeps the
// offline copy).
func New(prefix string) http.Handler {
	prefix = strings.TrimSuffix(prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w.Header())
		p := r.URL.Path
		if p == prefix && prefix != "" {
			http.Redirect(w, r, prefix+"/", http.StatusMovedPermanently)
			return
		}
		name, ok := strings.CutPrefix(p, prefix+"/")
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if name == "" {
			name = "index.html"
		}
		f := files[name]
		if f == nil || strings.HasSuffix(name, ".md") {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("ETag", f.etag)
		h.Set("Cache-Control", "no-cache")
		if name == "sw.js" {
			h.Set("Service-Worker-Allowed", prefix+"/")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	})
}

// setHeaders sets the security headers of every response.
func setHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()")
}
