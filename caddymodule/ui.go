package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"go.uber.org/zap"
)

// UI configures the challenge page, the only part of enumgate a customer
// sees: the operator's name and logo, colours, a help link, the languages
// and, if needed, the templates themselves. Every field is optional; the
// default is the built-in page in English and Russian without branding.
type UI struct {
	// Name is the operator's name, shown at the top of every page and in
	// the page title, e.g. "Demo Bank". Default: none.
	Name string `json:"name,omitempty"`

	// Logo is the operator's logo: an http or https URL, or the path of an
	// image file (.svg, .png, .jpg, .jpeg, .webp or .gif, at most 256 KiB)
	// that is read at Provision and served under <prefix>static/. A URL's
	// origin is added to the page's Content-Security-Policy img-src.
	// Default: none.
	Logo string `json:"logo,omitempty"`

	// PrimaryColor is the colour of the main buttons and method names, as
	// #rgb or #rrggbb. White text on it must have a contrast ratio of at
	// least 4.5:1 (WCAG AA). Default #0b5cad.
	PrimaryColor string `json:"primary_color,omitempty"`

	// AccentColor is the colour of links, focus rings and the frame of the
	// E-num question, as #rgb or #rrggbb, with a contrast ratio of at least
	// 4.5:1 against white. Default #1d6b4f.
	AccentColor string `json:"accent_color,omitempty"`

	// HelpURL is where the page's "Need help?" link goes: an http or https
	// URL, or a path on this site. Default: no link.
	HelpURL string `json:"help_url,omitempty"`

	// DefaultLanguage is the language of the pages for browsers whose
	// Accept-Language names none of the available languages. It must be
	// one of them. Default en.
	DefaultLanguage string `json:"default_language,omitempty"`

	// SMSPaid marks the SMS method as the paid option on the method
	// choice. Default false.
	SMSPaid bool `json:"sms_paid,omitempty"`

	// MessagesDir is a directory of message files named <language>.json
	// (e.g. de.json, pt-br.json): JSON objects of message key to text, with
	// the keys of the built-in en.json. A file for a built-in language (en,
	// ru) overrides just the keys it has; keys a file leaves out fall back
	// to English. Unknown keys, placeholders English does not have and
	// files that are not JSON are errors at Provision. Default: the
	// built-in English and Russian messages only.
	MessagesDir string `json:"messages_dir,omitempty"`

	// TemplatesDir is a directory of html/template files that replace the
	// built-in ones of the same name: layout.html (the blocks "head",
	// "brand" and "footer"), challenge.html and error.html. Each is parsed
	// and test-rendered at Provision; any other .html file is an error.
	// Keep the page's hooks (the forms' token and action fields,
	// data-error, data-question). Default: the built-in templates.
	TemplatesDir string `json:"templates_dir,omitempty"`
}

// Defaults of UI fields.
const (
	DefaultPrimaryColor = "#0b5cad"
	DefaultAccentColor  = "#1d6b4f"
	DefaultLanguage     = "en"
)

// Limits on operator files.
const (
	maxLogoBytes     = 256 << 10
	maxMessagesBytes = 1 << 20
	maxTemplateBytes = 1 << 20
)

// Loading the pages.

// loadUI prepares the pages of a handler from its ui settings (nil: the
// defaults) and checks them: colours, URLs, the logo file, the message
// files and the templates, which are test-rendered in every language.
func loadUI(u *UI, prefix string, logger *zap.Logger) (*pages, error) {
	if u == nil {
		u = new(UI)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	p, err := u.load(prefix, logger)
	if err != nil {
		return nil, fmt.Errorf("enumgate: ui: %w", err)
	}
	return p, nil
}

func (u *UI) load(prefix string, logger *zap.Logger) (*pages, error) {
	primary, accent := u.PrimaryColor, u.AccentColor
	if primary == "" {
		primary = DefaultPrimaryColor
	}
	if accent == "" {
		accent = DefaultAccentColor
	}
	if err := checkColor(primary); err != nil {
		return nil, fmt.Errorf("primary_color: %w", err)
	}
	if err := checkColor(accent); err != nil {
		return nil, fmt.Errorf("accent_color: %w", err)
	}
	if strings.ContainsAny(u.Name, "\r\n") || len(u.Name) > 100 {
		return nil, fmt.Errorf("name must be one line of at most 100 bytes")
	}
	p := &pages{
		static:  map[string]asset{},
		brand:   brand{Name: u.Name},
		smsPaid: u.SMSPaid,
	}
	if u.HelpURL != "" {
		if !safeLink(u.HelpURL) {
			return nil, fmt.Errorf("help_url %q must be an http or https URL or a path on this site", u.HelpURL)
		}
		p.brand.Help = u.HelpURL
	}
	imgSrc := "'self' data:"
	if u.Logo != "" {
		switch lu, err := url.Parse(u.Logo); {
		case err == nil && (lu.Scheme == "https" || lu.Scheme == "http") && cspHost.MatchString(lu.Host):
			p.brand.Logo = u.Logo
			imgSrc += " " + lu.Scheme + "://" + lu.Host
		case strings.Contains(u.Logo, "://"):
			return nil, fmt.Errorf("logo %q: want an http(s) URL or an image file", u.Logo)
		default:
			a, ext, err := readLogo(u.Logo)
			if err != nil {
				return nil, err
			}
			name := "logo" + ext
			p.static[name] = a
			p.brand.Logo = prefix + "static/" + name + "?v=" + a.etag
		}
	}
	p.csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src " + imgSrc +
		"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

	for _, name := range []string{"enumgate.css", "enumgate.js"} {
		b, err := webFS.ReadFile("web/static/" + name)
		if err != nil {
			return nil, err
		}
		p.static[name] = newAsset(b, contentType(name))
	}
	p.static["theme.css"] = newAsset([]byte(themeCSS(primary, accent)), "text/css; charset=utf-8")
	ver := func(name string) string { return prefix + "static/" + name + "?v=" + p.static[name].etag }
	p.assets = assets{CSS: ver("enumgate.css"), Theme: ver("theme.css"), JS: ver("enumgate.js")}

	langs, missing, err := loadLanguages(u.MessagesDir, u.DefaultLanguage)
	if err != nil {
		return nil, err
	}
	p.langs = langs
	for tag, keys := range missing {
		if tag == "en" || len(keys) == 0 {
			continue
		}
		logger.Warn("ui messages fall back to English", zap.String("language", tag),
			zap.Int("missing", len(keys)), zap.Strings("keys", keys[:min(len(keys), 8)]))
	}

	if p.tmpl, err = parseTemplates(u.TemplatesDir); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// safeLink reports whether s is an http(s) URL or a path on this site.
func safeLink(s string) bool {
	lu, err := url.Parse(s)
	if err != nil || strings.ContainsAny(s, " \t\r\n\\") {
		return false
	}
	if lu.Scheme == "" && lu.Host == "" {
		return strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//")
	}
	return (lu.Scheme == "https" || lu.Scheme == "http") && lu.Host != ""
}

// cspHost is a host (and port) that can go into a CSP source as it is.
var cspHost = regexp.MustCompile(`^(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+(?::[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?$`)

var imageTypes = map[string]string{
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
	".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif",
}

func readLogo(file string) (asset, string, error) {
	ext := strings.ToLower(filepath.Ext(file))
	ct, ok := imageTypes[ext]
	if !ok {
		return asset{}, "", fmt.Errorf("logo %q: want an http(s) URL or an .svg, .png, .jpg, .webp or .gif file", file)
	}
	f, err := os.Open(file)
	if err != nil {
		return asset{}, "", fmt.Errorf("logo: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLogoBytes+1))
	if err != nil {
		return asset{}, "", fmt.Errorf("logo: %w", err)
	}
	if len(b) > maxLogoBytes {
		return asset{}, "", fmt.Errorf("logo %q is larger than %d KiB", file, maxLogoBytes>>10)
	}
	if len(b) == 0 {
		return asset{}, "", fmt.Errorf("logo %q is empty", file)
	}
	return newAsset(b, ct), ext, nil
}

func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d KiB", name, limit>>10)
	}
	return b, nil
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	}
	return "application/octet-stream"
}

func newAsset(b []byte, ct string) asset {
	sum := sha256.Sum256(b)
	return asset{body: b, ctype: ct, etag: hex.EncodeToString(sum[:6])}
}
