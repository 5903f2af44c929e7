package caddymodule

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"math"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/enumgate/enumgate/challenge"
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

// parseUI parses the ui block of the enumgate directive. Syntax:
//
//	ui {
//		name <text...>
//		logo <url|file>
//		primary_color <#rrggbb>
//		accent_color <#rrggbb>
//		help_url <url|path>
//		default_language <tag>
//		sms_paid
//		messages_dir <dir>
//		templates_dir <dir>
//	}
//
// In a Caddyfile "#" starts a comment, so write colours quoted
// ("#0b5cad") or without the "#" (0b5cad).
func parseUI(d *caddyfile.Dispenser) (*UI, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	u := new(UI)
	one := func(dst *string) error {
		if !d.AllArgs(dst) {
			return d.ArgErr()
		}
		return nil
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "name":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return nil, d.ArgErr()
			}
			u.Name = strings.Join(args, " ")
		case "logo":
			err = one(&u.Logo)
		case "primary_color", "accent_color":
			var c string
			if !d.AllArgs(&c) {
				return nil, d.Errf(`%s needs one hex colour; quote it ("#0b5cad") or leave out the "#" (0b5cad), because "#" starts a comment`, opt)
			}
			if !strings.HasPrefix(c, "#") {
				c = "#" + c
			}
			if err := checkColor(c); err != nil {
				return nil, d.Errf("%s: %v", opt, err)
			}
			if opt == "primary_color" {
				u.PrimaryColor = c
			} else {
				u.AccentColor = c
			}
		case "help_url":
			err = one(&u.HelpURL)
		case "default_language":
			err = one(&u.DefaultLanguage)
		case "sms_paid":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			u.SMSPaid = true
		case "messages_dir":
			err = one(&u.MessagesDir)
		case "templates_dir":
			err = one(&u.TemplatesDir)
		default:
			return nil, d.Errf("unknown ui option %q", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// checkColor accepts #rgb and #rrggbb colours on which white text (and
// which as text on white) has a contrast ratio of at least 4.5:1.
func checkColor(c string) error {
	if !hexColor.MatchString(c) {
		return fmt.Errorf("%q is not a hex colour like #0b5cad", c)
	}
	if r := contrast(c, "#ffffff"); r < 4.5 {
		return fmt.Errorf("%s has a contrast ratio of %.1f:1 with white; choose a darker colour (at least 4.5:1)", c, r)
	}
	return nil
}

// contrast returns the WCAG 2 contrast ratio of two hex colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance returns the WCAG 2 relative luminance of a hex colour.
func luminance(c string) float64 {
	h := strings.TrimPrefix(c, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(h[0:2]) + 0.7152*lin(h[2:4]) + 0.0722*lin(h[4:6])
}

// Languages.

// catalog is one language's messages, complete: keys the language's
// files lack hold the English text.
type catalog struct {
	lang string
	dir  string // "ltr" or "rtl"
	msgs map[string]string
}

// text returns the message key, or "" if there is none.
func (c *catalog) text(key string) string { return c.msgs[key] }

// languages are the available catalogs and the default.
type languages struct {
	byTag map[string]*catalog
	tags  []string // sorted
	def   string
}

var langTag = regexp.MustCompile(`^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$`)

var placeholder = regexp.MustCompile(`\{([a-z_]+)\}`)

// operatorKey matches the message keys an operator may add for their own
// operations and fields: op.<operation> (the operation's name),
// summary.payee.<operation> (its payee row) and field.<label> (a show
// field's row).
var operatorKey = regexp.MustCompile(`^(?:op|summary\.payee|field)\.[a-z0-9_.]{1,64}$`)

// loadLanguages reads the built-in message files and the operator's,
// checks each against the built-in English and fills the gaps with
// English. It returns the languages and, per language, the keys that fell
// back to English.
func loadLanguages(dir, def string) (*languages, map[string][]string, error) {
	read := func(fsys fs.FS, name string) (string, map[string]string, error) {
		tag := strings.ToLower(strings.TrimSuffix(name, ".json"))
		if !langTag.MatchString(tag) {
			return "", nil, fmt.Errorf("%s: the file name must be a language tag like de.json or pt-br.json", name)
		}
		b, err := readLimited(fsys, name, maxMessagesBytes)
		if err != nil {
			return "", nil, err
		}
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return "", nil, fmt.Errorf("%s: not a JSON object of strings: %w", name, err)
		}
		return tag, m, nil
	}
	raw := map[string]map[string]string{}
	builtin, _ := fs.Sub(webFS, "web/i18n")
	names, _ := fs.Glob(builtin, "*.json")
	for _, n := range names {
		tag, m, err := read(builtin, n)
		if err != nil {
			return nil, nil, fmt.Errorf("built-in messages: %w", err)
		}
		raw[tag] = m
	}
	english := maps.Clone(raw["en"])
	for tag, m := range raw {
		if err := checkMessages(english, m, tag+".json"); err != nil {
			return nil, nil, fmt.Errorf("built-in messages: %w", err)
		}
	}
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			return nil, nil, fmt.Errorf("messages_dir %q is not a directory", dir)
		}
		fsys := os.DirFS(dir)
		names, _ := fs.Glob(fsys, "*.json")
		if len(names) == 0 {
			return nil, nil, fmt.Errorf("messages_dir %q has no <language>.json files", dir)
		}
		for _, n := range names {
			tag, m, err := read(fsys, n)
			if err == nil {
				err = checkMessages(english, m, n)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("messages_dir: %w", err)
			}
			if raw[tag] == nil {
				raw[tag] = map[string]string{}
			}
			maps.Copy(raw[tag], m)
		}
	}
	l := &languages{byTag: map[string]*catalog{}, def: strings.ToLower(def)}
	if l.def == "" {
		l.def = DefaultLanguage
	}
	missing := map[string][]string{}
	for tag, m := range raw {
		c := &catalog{lang: tag, dir: "ltr", msgs: make(map[string]string, len(english))}
		for k, en := range raw["en"] {
			if v, ok := m[k]; ok {
				c.msgs[k] = v
			} else {
				c.msgs[k] = en
				if _, builtin := english[k]; builtin {
					missing[tag] = append(missing[tag], k)
				}
			}
		}
		for k, v := range m {
			if _, builtin := english[k]; !builtin {
				c.msgs[k] = v // an operator's label; languages without it fall back to English or the readable name
			}
		}
		if c.msgs["lang.dir"] == "rtl" {
			c.dir = "rtl"
		}
		sort.Strings(missing[tag])
		l.byTag[tag] = c
		l.tags = append(l.tags, tag)
	}
	sort.Strings(l.tags)
	if l.byTag[l.def] == nil {
		return nil, nil, fmt.Errorf("default_language %q is not available (have %s)", def, strings.Join(l.tags, ", "))
	}
	return l, missing, nil
}

// methodKey matches the messages of a confirmation method: its name and
// hints on the method choice, its step's heading and "sent" line, the
// answer's label, the resend button and the "sent again" notice.
var methodKey = regexp.MustCompile(`^(?:method\.([a-z0-9_]+)(?:\.(hint|hint_to|heading|sent))?|answer\.label\.([a-z0-9_]+)|resend\.([a-z0-9_]+)|notice\.sent\.([a-z0-9_]+))$`)

// methodMessage reports whether k is a message of a registered
// confirmation method, and the one placeholder it may use ("" none).
func methodMessage(k string) (placeholder string, ok bool) {
	m := methodKey.FindStringSubmatch(k)
	if m == nil {
		return "", false
	}
	name := m[1] + m[3] + m[4] + m[5]
	if _, registered := challenge.LookupMethod(challenge.Method(name)); !registered {
		return "", false
	}
	if m[2] == "hint_to" || m[2] == "sent" {
		return "to", true
	}
	return "", true
}

// checkMessages checks one message file against English: every key must
// be known and non-empty, and use only placeholders the English text has.
func checkMessages(english, m map[string]string, file string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		en, ok := english[k]
		if !ok && operatorKey.MatchString(k) {
			// A label for the operator's own operation or field: plain
			// text, no placeholders.
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("%s: message %q is empty", file, k)
			}
			if placeholder.MatchString(v) {
				return fmt.Errorf("%s: label %q may not use placeholders", file, k)
			}
			continue
		}
		if !ok {
			if allowed, isMethod := methodMessage(k); isMethod {
				if strings.TrimSpace(v) == "" {
					return fmt.Errorf("%s: message %q is empty", file, k)
				}
				for _, p := range placeholder.FindAllStringSubmatch(v, -1) {
					if p[1] != allowed {
						return fmt.Errorf("%s: message %q uses {%s}, which it may not", file, k, p[1])
					}
				}
				continue
			}
			return fmt.Errorf("%s: unknown message key %q (operators may add op.<operation>, summary.payee.<operation>, field.<label> and the texts of a registered confirmation method)", file, k)
		}
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s: message %q is empty", file, k)
		}
		if k == "lang.dir" && v != "ltr" && v != "rtl" {
			return fmt.Errorf("%s: lang.dir must be ltr or rtl, not %q", file, v)
		}
		for _, p := range placeholder.FindAllStringSubmatch(v, -1) {
			if !strings.Contains(en, "{"+p[1]+"}") {
				return fmt.Errorf("%s: message %q uses {%s}, which the English text does not have", file, k, p[1])
			}
		}
	}
	return nil
}

// negotiate picks the language for an Accept-Language header: the
// available language the highest-weighted range matches (exactly, then by
// primary subtag), else the default. Ranges with q=0 are refused.
func (l *languages) negotiate(header string) *catalog {
	if tag := negotiate(header, l.tags, l.def); tag != "" {
		return l.byTag[tag]
	}
	return l.byTag[l.def]
}

// maxRanges bounds the work spent on one Accept-Language header.
const maxRanges = 32

func negotiate(header string, available []string, def string) string {
	type rng struct {
		tag string
		q   float64
	}
	var ranges []rng
	for part := range strings.SplitSeq(header, ",") {
		if len(ranges) == maxRanges {
			break
		}
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag == "" {
			continue
		}
		q := 1.0
		if params = strings.TrimSpace(params); params != "" {
			v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			f, err := strconv.ParseFloat(v, 64)
			if !ok || err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q == 0 {
			continue
		}
		ranges = append(ranges, rng{tag, q})
	}
	sort.SliceStable(ranges, func(i, j int) bool { return ranges[i].q > ranges[j].q })
	for _, r := range ranges {
		if r.tag == "*" {
			return def
		}
		if slices.Contains(available, r.tag) {
			return r.tag
		}
		primary, _, _ := strings.Cut(r.tag, "-")
		if slices.Contains(available, primary) {
			return primary
		}
		for _, a := range available {
			if p, _, _ := strings.Cut(a, "-"); p == primary {
				return a
			}
		}
	}
	return def
}

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

// themeCSS is the stylesheet that carries the operator's colours, served
// as a file so that the page's CSP needs no inline style.
func themeCSS(primary, accent string) string {
	return fmt.Sprintf(":root {\n\t--eg-primary: %s;\n\t--eg-accent: %s;\n}\n", strings.ToLower(primary), strings.ToLower(accent))
}

// templateNames are the templates an operator may replace, besides the
// method blocks method_<name>.html (see isMethodTemplate).
var templateNames = []string{"layout.html", "challenge.html", "error.html"}

// parseTemplates parses the built-in templates and then the operator's,
// which replace the built-in ones of the same name (and the blocks they
// define).
func parseTemplates(dir string) (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"group":     groupDigits,
		"spell":     spellDigits,
		"clock":     clock,
		"countdown": countdown,
		// Replaced below, once the templates it executes are parsed.
		"methodStep": func(*pageData) (template.HTML, error) { return "", nil },
	}).ParseFS(webFS, "web/*.html")
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return withMethodStep(t), nil
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("templates_dir %q is not a directory", dir)
	}
	fsys := os.DirFS(dir)
	names, _ := fs.Glob(fsys, "*.html")
	if len(names) == 0 {
		return nil, fmt.Errorf("templates_dir %q has no .html files (want %s)", dir, strings.Join(templateNames, ", "))
	}
	for _, n := range names {
		if !slices.Contains(templateNames, n) && !isMethodTemplate(n) {
			return nil, fmt.Errorf("templates_dir: unknown template %s (want %s); a method's step is method_<method>.html", n, strings.Join(templateNames, ", "))
		}
		b, err := readLimited(fsys, n, maxTemplateBytes)
		if err != nil {
			return nil, fmt.Errorf("templates_dir: %w", err)
		}
		if _, err := t.New(n).Parse(string(b)); err != nil {
			return nil, fmt.Errorf("templates_dir: %w", err)
		}
	}
	return withMethodStep(t), nil
}

// isMethodTemplate reports whether name is method_<name>.html of a
// registered confirmation method: its template block "method-<name>".
func isMethodTemplate(name string) bool {
	m, ok := strings.CutPrefix(name, "method_")
	if !ok {
		return false
	}
	m, ok = strings.CutSuffix(m, ".html")
	if !ok {
		return false
	}
	_, registered := challenge.LookupMethod(challenge.Method(m))
	return registered || m == "code"
}

// withMethodStep gives t the function methodStep, which renders the step
// of the begun method: its block "method-<name>" (method_<name>.html), or
// "method-code" for a method without one.
func withMethodStep(t *template.Template) *template.Template {
	return t.Funcs(template.FuncMap{"methodStep": func(d *pageData) (template.HTML, error) {
		if d == nil || d.C == nil {
			return "", nil
		}
		name := "method-" + string(d.C.Method)
		if t.Lookup(name) == nil {
			name = "method-code"
		}
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, name, d); err != nil {
			return "", err
		}
		return template.HTML(b.String()), nil
	}})
}

// check renders every template in every language with sample data, so a
// broken template or message file fails at Provision and not in front of
// a customer.
func (p *pages) check() error {
	now := time.Now()
	base := challenge.Challenge{
		ID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer", Amount: "10.00", Payee: "Z123456789012", PayeeDisplay: "Z123456789012",
		Methods: []challenge.Method{challenge.MethodEnum, challenge.MethodSMS, challenge.MethodEmail},
		State:   challenge.StateChooseMethod, AttemptsLeft: 3, Expires: now.Add(5 * time.Minute),
	}
	enum, sms, email := base, base, base
	enum.State, enum.Method, enum.Question = challenge.StateAwaitingAnswer, challenge.MethodEnum, "12345678"
	sms.State, sms.Method, sms.SentTo, sms.ResendAt = challenge.StateAwaitingAnswer, challenge.MethodSMS, "+7•••••01", now.Add(time.Minute)
	email.State, email.Method, email.SentTo, email.Operation = challenge.StateAwaitingAnswer, challenge.MethodEmail, "a•••@example.test", "new_correspondent"
	email.Fields = []challenge.Field{{Name: "name", Label: "correspondent_name", Value: "Ivan Petrov", Display: "Ivan Petrov"}}
	pay := enum
	pay.Mode, pay.Currency, pay.PaymentPurse, pay.PaymentAmount = challenge.ModePayment, "RUB", "123456789012", "10"
	samples := []struct {
		c    challenge.Challenge
		code string
	}{{base, ""}, {enum, "wrong_answer"}, {sms, "resend_too_soon"}, {email, ""}, {sms, "sms_limit"}, {pay, ""}}
	for _, tag := range p.langs.tags {
		cat := p.langs.byTag[tag]
		var unknown []string
		for _, s := range samples {
			c := s.c
			d := p.data(cat, "/.enumgate/")
			d.unknown = &unknown
			d.Action, d.Token = "/.enumgate/challenge/"+c.ID, "token"
			d.setChallenge(&c, p.smsPaid)
			if s.code != "" {
				d.setError(s.code, "", 2)
			}
			if err := p.tmpl.ExecuteTemplate(io.Discard, "challenge.html", d); err != nil {
				return fmt.Errorf("challenge.html (%s): %w", tag, err)
			}
		}
		d := p.data(cat, "/.enumgate/")
		d.unknown = &unknown
		d.setError("unknown_challenge", "", 0)
		d.Retry = "/.enumgate/challenge/x"
		if err := p.tmpl.ExecuteTemplate(io.Discard, "error.html", d); err != nil {
			return fmt.Errorf("error.html (%s): %w", tag, err)
		}
		if len(unknown) > 0 {
			return fmt.Errorf("templates use unknown message keys: %s", strings.Join(slices.Compact(slices.Sorted(slices.Values(unknown))), ", "))
		}
	}
	return nil
}

// checkMethods renders the challenge page in every language for each
// confirmation method in use that is not built in, so a method without
// its messages fails at Provision and not in front of a customer.
func (p *pages) checkMethods(methods []challenge.Method) error {
	now := time.Now()
	for _, m := range methods {
		switch m {
		case challenge.MethodEnum, challenge.MethodSMS, challenge.MethodEmail:
			continue // checked with the built-in samples
		}
		c := challenge.Challenge{
			ID: "AAAAAAAAAAAAAAAAAAAAAA", Operation: "transfer", Amount: "10.00", Payee: "Z123456789012", PayeeDisplay: "Z123456789012",
			Methods: []challenge.Method{challenge.MethodEnum, m}, State: challenge.StateChooseMethod, AttemptsLeft: 3,
			Expires: now.Add(5 * time.Minute), Destinations: map[string]string{string(m): "•••01"},
		}
		begun := c
		begun.State, begun.Methods, begun.Method, begun.SentTo, begun.ResendAt = challenge.StateAwaitingAnswer, []challenge.Method{m, challenge.MethodEnum}, m, "•••01", now.Add(time.Minute)
		for _, tag := range p.langs.tags {
			var unknown []string
			for _, sample := range []challenge.Challenge{c, begun} {
				d := p.data(p.langs.byTag[tag], "/.enumgate/")
				d.unknown = &unknown
				d.Action, d.Token = "/.enumgate/challenge/"+c.ID, "token"
				d.setChallenge(&sample, p.smsPaid)
				if err := p.tmpl.ExecuteTemplate(io.Discard, "challenge.html", d); err != nil {
					return fmt.Errorf("challenge.html (%s, method %s): %w", tag, m, err)
				}
			}
			if len(unknown) > 0 {
				return fmt.Errorf("method %s has no messages %s (add them to messages_dir)", m, strings.Join(slices.Compact(slices.Sorted(slices.Values(unknown))), ", "))
			}
		}
	}
	return nil
}

// format fills the {name} placeholders of msg from args, given as name,
// value pairs; wrap, if not nil, formats each value.
func format(msg string, args []any, wrap func(any) string) string {
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	var b bytes.Buffer
	rest := msg
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break
		}
		name := rest[i+1 : i+j]
		val, ok := arg(args, name)
		b.WriteString(rest[:i])
		switch {
		case !ok:
			b.WriteString(rest[i : i+j+1])
		case wrap != nil:
			b.WriteString(wrap(val))
		default:
			fmt.Fprint(&b, val)
		}
		rest = rest[i+j+1:]
	}
	b.WriteString(rest)
	return b.String()
}

func arg(args []any, name string) (any, bool) {
	for i := 0; i+1 < len(args); i += 2 {
		if s, ok := args[i].(string); ok && s == name {
			return args[i+1], true
		}
	}
	return nil, false
}
