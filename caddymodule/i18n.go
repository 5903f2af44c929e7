package caddymodule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/enumgate/enumgate/challenge"
)

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
