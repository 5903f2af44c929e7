package enumapp_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/enumgate/enumgate/enumapp"
)

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServesTheAppUnderItsPrefix(t *testing.T) {
	tests := []struct {
		prefix, path string
		status       int
		ctype        string
	}{
		{"/app", "/app/", 200, "text/html; charset=utf-8"},
		{"/app", "/app/index.html", 200, "text/html; charset=utf-8"},
		{"/app", "/app/app.js", 200, "text/javascript; charset=utf-8"},
		{"/app", "/app/ocra.js", 200, "text/javascript; charset=utf-8"},
		{"/app", "/app/vendor/jsQR.js", 200, "text/javascript; charset=utf-8"},
		{"/app", "/app/app.css", 200, "text/css; charset=utf-8"},
		{"/app", "/app/manifest.webmanifest", 200, "application/manifest+json"},
		{"/app", "/app/icon-192.png", 200, "image/png"},
		{"/app", "/app", 301, ""},
		{"/app", "/app/nothing.js", 404, ""},
		{"/app", "/app/vendor/README.md", 404, ""},
		{"/app", "/other", 404, ""},
		{"/app", "/app/../app.js", 404, ""},
		{"", "/", 200, "text/html; charset=utf-8"},
		{"", "/sw.js", 200, "text/javascript; charset=utf-8"},
		{"", "/app/", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+tt.path, func(t *testing.T) {
			w := get(t, enumapp.New(tt.prefix), "GET", tt.path)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.ctype != "" && w.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", w.Header().Get("Content-Type"), tt.ctype)
			}
			if tt.status == 301 && w.Header().Get("Location") != tt.prefix+"/" {
				t.Errorf("Location %q", w.Header().Get("Location"))
			}
			if w.Header().Get("Content-Security-Policy") != enumapp.CSP {
				t.Errorf("no CSP on a %d", w.Code)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	w := get(t, enumapp.New("/app"), "GET", "/app/")
	for k, want := range map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Cache-Control":                "no-cache",
	} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows inline code or other origins", csp)
	}
}

func TestOnlyGetAndHead(t *testing.T) {
	h := enumapp.New("/app")
	if w := get(t, h, "POST", "/app/"); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := get(t, h, "HEAD", "/app/app.js"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d bytes", w.Code, w.Body.Len())
	}
}

func TestRevalidatesWithETag(t *testing.T) {
	h := enumapp.New("")
	etag := get(t, h, "GET", "/app.js").Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if w := get(t, h, "GET", "/app.js", "If-None-Match", etag); w.Code != 304 {
		t.Errorf("If-None-Match = %d, want 304", w.Code)
	}
}

func TestServiceWorkerCachesUnderTheVersion(t *testing.T) {
	w := get(t, enumapp.New("/app"), "GET", "/app/sw.js")
	body := w.Body.String()
	if len(enumapp.Version()) != 16 || !strings.Contains(body, `const VERSION = "`+enumapp.Version()+`"`) || strings.Contains(body, "__ENUM_APP_VERSION__") {
		t.Errorf("sw.js does not carry version %q", enumapp.Version())
	}
	if w.Header().Get("Service-Worker-Allowed") != "/app/" {
		t.Errorf("Service-Worker-Allowed = %q", w.Header().Get("Service-Worker-Allowed"))
	}
	// Every file the worker caches is served.
	list := regexp.MustCompile(`(?s)const FILES = \[(.*?)\];`).FindStringSubmatch(body)
	if list == nil {
		t.Fatal("no FILES in sw.js")
	}
	for _, m := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(list[1], -1) {
		if w := get(t, enumapp.New("/app"), "GET", "/app/"+strings.TrimPrefix(m[1], "./")); w.Code != 200 {
			t.Errorf("cached file %s = %d", m[1], w.Code)
		}
	}
}

// TestNoInlineScriptNoThirdParty: the page loads only its own files.
func TestNoInlineScriptNoThirdParty(t *testing.T) {
	h := enumapp.New("")
	html := get(t, h, "GET", "/").Body.String()
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("inline script %s", tag)
		}
	}
	if regexp.MustCompile(`\son[a-z]+=`).MatchString(html) || strings.Contains(html, "style=") {
		t.Error("inline event handler or style attribute")
	}
	for _, p := range []string{"/", "/app.css", "/app.js", "/ocra.js", "/vault.js", "/sw.js", "/manifest.webmanifest"} {
		if b := get(t, h, "GET", p).Body.String(); strings.Contains(b, "http://") || strings.Contains(b, "https://") || strings.Contains(b, "url(") {
			t.Errorf("%s refers to another origin", p)
		}
	}
}

// The app mounted under /app, as the demo does.
func ExampleNew() {
	mux := http.NewServeMux()
	mux.Handle("/app/", enumapp.New("/app"))
	mux.Handle("/app", enumapp.New("/app"))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/app/manifest.webmanifest", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	// Output: 200 application/manifest+json
}
