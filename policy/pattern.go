package policy

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPatternLen is the longest path pattern Compile accepts, in bytes.
const MaxPatternLen = 256

// nfaWords is the size of the NFA state set: one bit per token plus the
// accepting state. A pattern of MaxPatternLen bytes has at most
// MaxPatternLen tokens.
const nfaWords = (MaxPatternLen + 1 + 63) / 64

type patKind uint8

const (
	patExact    patKind = iota // "/transfer"
	patPrefix                  // "/api/transfers*"
	patSuffix                  // "*.json"
	patContains                // "*/pay/*"
	patAny                     // "*"
	patGlob                    // "/u/*/pay", "/a/*/b*", "/v?/x", "/[ab]/c"
)

type tokKind uint8

const (
	tokLit   tokKind = iota // one (folded) rune
	tokOne                  // '?': one rune other than '/'
	tokClass                // '[...]': one rune in (or not in) the class
	tokStar                 // '*' inside the pattern: any run of runes other than '/'
	tokSpan                 // '*' at either end, or '**': any run of runes
)

type runeRange struct{ lo, hi rune }

type token struct {
	kind   tokKind
	r      rune
	neg    bool
	ranges []runeRange
}

// pattern is one compiled path pattern. See Policy.Match for the semantics.
type pattern struct {
	kind patKind
	lit  string  // folded literal for exact, prefix, suffix and contains
	toks []token // for glob
	// For glob: the literal text before the first and after the last
	// wildcard, checked before running the NFA; and the number of state
	// words the NFA needs.
	head, tail string
	words      int
}

// compilePattern validates and compiles one path pattern as written by the
// operator.
func compilePattern(raw string) (pattern, error) {
	if err := checkPatternText(raw); err != nil {
		return pattern{}, err
	}
	toks, err := tokenize(raw)
	if err != nil {
		return pattern{}, err
	}
	n := len(toks)
	allLit := func(ts []token) bool {
		for _, t := range ts {
			if t.kind != tokLit {
				return false
			}
		}
		return true
	}
	litOf := func(ts []token) string {
		var b strings.Builder
		for _, t := range ts {
			b.WriteRune(t.r)
		}
		return b.String()
	}
	first, last := toks[0].kind == tokSpan, toks[n-1].kind == tokSpan
	switch {
	case allLit(toks):
		lit := litOf(toks)
		if len(lit) > 1 {
			lit = strings.TrimSuffix(lit, "/")
		}
		if cleanPath(lit) != lit {
			return pattern{}, fmt.Errorf("path %q could never match a cleaned request path", raw)
		}
		return pattern{kind: patExact, lit: lit}, nil
	case n == 1 && first:
		return pattern{kind: patAny}, nil
	case first && last && allLit(toks[1:n-1]):
		return pattern{kind: patContains, lit: litOf(toks[1 : n-1])}, nil
	case first && allLit(toks[1:]):
		return pattern{kind: patSuffix, lit: litOf(toks[1:])}, nil
	case last && allLit(toks[:n-1]):
		return pattern{kind: patPrefix, lit: litOf(toks[:n-1])}, nil
	}
	i := 0
	for i < n && toks[i].kind == tokLit {
		i++
	}
	j := n
	for j > 0 && toks[j-1].kind == tokLit {
		j--
	}
	return pattern{
		kind:  patGlob,
		toks:  toks,
		head:  litOf(toks[:i]),
		tail:  litOf(toks[j:]),
		words: (n + 1 + 63) / 64,
	}, nil
}

// checkPatternText rejects patterns that could never match a cleaned path
// or that suggest the operator expects semantics this package does not have.
func checkPatternText(raw string) error {
	switch {
	case raw == "":
		return errors.New(`path is empty`)
	case len(raw) > MaxPatternLen:
		return fmt.Errorf("path %.40q... is longer than %d bytes", raw, MaxPatternLen)
	case raw[0] != '/' && raw[0] != '*':
		return fmt.Errorf(`path %q must start with "/" or "*"`, raw)
	case !utf8.ValidString(raw):
		return fmt.Errorf("path %q is not valid UTF-8", raw)
	}
	for _, r := range raw {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("path %q contains a control character", raw)
		case r == '%':
			return fmt.Errorf(`path %q contains "%%": write the decoded path, not percent-escapes`, raw)
		case r == '{' || r == '}':
			return fmt.Errorf(`path %q contains "{" or "}": placeholders are not supported here`, raw)
		case r == ';':
			return fmt.Errorf(`path %q contains ";": path parameters are not part of the matched path`, raw)
		}
	}
	// segs[0] is the text before the first "/"; a last empty segment is
	// the root or a trailing slash (insignificant).
	segs := strings.Split(raw, "/")
	for i := 1; i < len(segs); i++ {
		seg := segs[i]
		if seg == "" && i == len(segs)-1 {
			continue
		}
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf(`path %q has an empty, "." or ".." segment and could never match a cleaned request path`, raw)
		}
	}
	return nil
}

// tokenize splits a pattern into folded tokens. Runs of '*' collapse into
// one token: tokSpan if the run is at the start or end of the pattern or is
// longer than one star, tokStar otherwise.
func tokenize(raw string) ([]token, error) {
	var toks []token
	s := raw
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch r {
		case '*':
			stars := 0
			for stars < len(s) && s[stars] == '*' {
				stars++
			}
			kind := tokStar
			if len(toks) == 0 || stars == len(s) || stars > 1 {
				kind = tokSpan
			}
			toks = append(toks, token{kind: kind})
			s = s[stars:]
			continue
		case '?':
			toks = append(toks, token{kind: tokOne})
		case '[':
			t, rest, err := parseClass(s[1:])
			if err != nil {
				return nil, fmt.Errorf("path %q: %w", raw, err)
			}
			toks = append(toks, t)
			s = rest
			continue
		case '\\':
			if len(s) == 1 {
				return nil, fmt.Errorf(`path %q ends in an unfinished "\" escape`, raw)
			}
			r, size = utf8.DecodeRuneInString(s[1:])
			size++
			fallthrough
		default:
			toks = append(toks, token{kind: tokLit, r: foldRune(r)})
		}
		s = s[size:]
	}
	return toks, nil
}

// parseClass parses a character class after its '['. The grammar follows
// path.Match: [ '^' ] { lo [ '-' hi ] } ']' with '\' escapes and at least
// one range.
func parseClass(s string) (token, string, error) {
	errBad := errors.New("malformed character class")
	t := token{kind: tokClass}
	if strings.HasPrefix(s, "^") {
		t.neg = true
		s = s[1:]
	}
	getEsc := func() (rune, error) {
		if s == "" || s[0] == '-' || s[0] == ']' {
			return 0, errBad
		}
		if s[0] == '\\' {
			s = s[1:]
			if s == "" {
				return 0, errBad
			}
		}
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		return r, nil
	}
	for {
		if strings.HasPrefix(s, "]") && len(t.ranges) > 0 {
			return t, s[1:], nil
		}
		lo, err := getEsc()
		if err != nil {
			return token{}, "", err
		}
		hi := lo
		if strings.HasPrefix(s, "-") {
			s = s[1:]
			if hi, err = getEsc(); err != nil {
				return token{}, "", err
			}
		}
		if lo > hi {
			return token{}, "", fmt.Errorf("character class range %q-%q is empty", lo, hi)
		}
		if lo == hi {
			lo = foldRune(lo)
			hi = lo
		}
		t.ranges = append(t.ranges, runeRange{lo, hi})
	}
}

// classMatch reports whether the folded rune c is in the class. A range of
// one rune was folded at compile time; wider ranges match if c or any rune
// of its case class lies in them.
func (t *token) classMatch(c rune) bool {
	in := false
	for _, rg := range t.ranges {
		if rg.lo <= c && c <= rg.hi {
			in = true
			break
		}
		if rg.lo == rg.hi || c < utf8.RuneSelf && !('a' <= c && c <= 'z') {
			continue
		}
		for _, v := range [...]rune{unicode.ToUpper(c), unicode.ToLower(c), unicode.ToTitle(c)} {
			if rg.lo <= v && v <= rg.hi {
				in = true
			}
		}
		for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
			if rg.lo <= f && f <= rg.hi {
				in = true
			}
		}
		if in {
			break
		}
	}
	return in != t.neg
}

// match reports whether the canonical path q (see isCanonical) matches.
// Trailing slashes are insignificant: q matches if the pattern matches q or
// q+"/". This is what lets "/api/transfers/*" cover "/api/transfers".
func (p *pattern) match(q string) bool {
	slash := q != "/" // whether q+"/" is a distinct reading
	switch p.kind {
	case patExact:
		return q == p.lit
	case patPrefix:
		if strings.HasPrefix(q, p.lit) {
			return true
		}
		return slash && len(p.lit) == len(q)+1 && p.lit[len(q)] == '/' && p.lit[:len(q)] == q
	case patSuffix:
		if strings.HasSuffix(q, p.lit) {
			return true
		}
		return slash && strings.HasSuffix(p.lit, "/") && strings.HasSuffix(q, p.lit[:len(p.lit)-1])
	case patContains:
		if strings.Contains(q, p.lit) {
			return true
		}
		return slash && strings.HasSuffix(p.lit, "/") && strings.HasSuffix(q, p.lit[:len(p.lit)-1])
	case patAny:
		return true
	default:
		// Cheap necessary conditions first: q or q+"/" must start with the
		// head and end with the tail.
		if !strings.HasPrefix(q, p.head) && !(slash && len(p.head) == len(q)+1 && p.head[len(q)] == '/' && p.head[:len(q)] == q) {
			return false
		}
		if !strings.HasSuffix(q, p.tail) && !(slash && strings.HasSuffix(p.tail, "/") && strings.HasSuffix(q, p.tail[:len(p.tail)-1])) {
			return false
		}
		return p.matchGlob(q, slash)
	}
}

type stateSet [nfaWords]uint64

func (s *stateSet) add(i int)      { s[i>>6] |= 1 << (uint(i) & 63) }
func (s *stateSet) has(i int) bool { return s[i>>6]&(1<<(uint(i)&63)) != 0 }
func (s *stateSet) empty() bool    { return *s == stateSet{} }
func (s *stateSet) closure(toks []token) {
	// A star may match nothing: from a star state, the next state is also
	// active. Ascending order propagates through runs of stars.
	for i, t := range toks {
		if (t.kind == tokStar || t.kind == tokSpan) && s.has(i) {
			s.add(i + 1)
		}
	}
}

// matchGlob runs the pattern as an NFA over the runes of q (and, if slash,
// one more '/'), in time linear in len(q) and without allocating.
func (p *pattern) matchGlob(q string, slash bool) bool {
	toks := p.toks
	accept := len(toks)
	var cur stateSet
	cur.add(0)
	cur.closure(toks)
	step := func(c rune) {
		var next stateSet
		for w, word := range cur[:p.words] {
			for word != 0 {
				i := w<<6 | bits.TrailingZeros64(word)
				word &= word - 1
				if i == accept {
					continue
				}
				t := &toks[i]
				switch t.kind {
				case tokLit:
					if c == t.r {
						next.add(i + 1)
					}
				case tokOne:
					if c != '/' {
						next.add(i + 1)
					}
				case tokClass:
					if t.classMatch(c) {
						next.add(i + 1)
					}
				case tokStar:
					if c != '/' {
						next.add(i)
					}
				case tokSpan:
					next.add(i)
				}
			}
		}
		next.closure(toks)
		cur = next
	}
	for i := 0; i < len(q); {
		c, size := rune(q[i]), 1
		if c >= utf8.RuneSelf {
			c, size = utf8.DecodeRuneInString(q[i:])
		}
		i += size
		step(c)
		if cur.empty() {
			return false
		}
	}
	if cur.has(accept) {
		return true
	}
	if slash {
		step('/')
		return cur.has(accept)
	}
	return false
}
