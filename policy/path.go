package policy

import (
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldRune maps r to a canonical representative of its case class, such
// that foldRune(r) == foldRune(unicode.ToUpper(r)) == foldRune(unicode.ToLower(r))
// == foldRune(unicode.SimpleFold(r)) for every rune (checked exhaustively by
// the tests). ASCII letters fold to lower case; so do the non-ASCII runes
// whose case class contains an ASCII letter (KELVIN SIGN, LATIN SMALL LETTER
// LONG S, dotless i, dotted capital I), which some upstreams (Java's
// equalsIgnoreCase, .NET, Go's encoding/json) treat as equal to their ASCII
// look-alikes.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}
	c := unicode.ToLower(unicode.ToUpper(r))
	best := c
	for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
		if f < best {
			best = f
		}
	}
	if 'A' <= best && best <= 'Z' {
		best += 'a' - 'A'
	}
	return best
}

// foldString folds every rune of s with [foldRune]. Invalid UTF-8 bytes
// become U+FFFD, so the result is always valid UTF-8.
func foldString(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// isCanonical reports whether p is already in the form Match compares: it
// starts with "/", is ASCII without upper-case letters, has no empty, "."
// or ".." segment, no trailing slash (unless it is "/"), no segment ending
// in "." or " ", and none of the bytes that open an alternative reading
// ('%', ';', '\', NUL). For such a path every reading of pathReadings
// equals p itself, so Match can compare it directly without allocating.
func isCanonical(p string) bool {
	canonical, _ := scanPath(p)
	return canonical
}

// scanPath reports whether p is canonical (see isCanonical) and, if so,
// whether it is also plain: frameworkReadings gives it no other reading
// (its last segment has no dot and no other segment ends in ".php").
func scanPath(p string) (canonical, plain bool) {
	if len(p) == 0 || p[0] != '/' {
		return false, false
	}
	if len(p) == 1 {
		return true, true
	}
	plain = true
	segStart, dot := 1, false
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if i == segStart {
				return false, false // empty segment: "//" or trailing "/"
			}
			if last := p[i-1]; last == '.' || last == ' ' {
				return false, false // ".", "..", or a Windows-trimmed segment
			}
			if i == len(p) {
				plain = plain && !dot
			} else if dot && p[i-1] == 'p' && strings.HasSuffix(p[segStart:i], ".php") {
				plain = false
			}
			segStart, dot = i+1, false
			continue
		}
		switch c := p[i]; {
		case c >= utf8.RuneSelf, 'A' <= c && c <= 'Z', c == '%', c == ';', c == '\\', c == 0:
			return false, false
		case c == '.':
			dot = true
		}
	}
	return true, plain
}

// cleanPath returns the canonical form of an already folded path: rooted,
// with "//", "/./" and "/../" resolved by [path.Clean] and no trailing
// slash.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return path.Clean(p)
}

// pathReadings returns the distinct canonical readings of a request path
// that is not [isCanonical]. The first is the plain reading: folded and
// cleaned. The others apply every combination of the lenient
// interpretations that some upstream might use:
//
//   - one more round of percent-decoding ("%2F", "%2e%2e", "%252F"),
//     before folding;
//   - truncation at the first NUL byte (C-based servers);
//   - "\\" as a path separator (Windows, IIS, some frameworks);
//   - ";" path parameters removed from every segment up to the next "/"
//     (servlet containers: "/transfer;jsessionid=1", "/x/..;/transfer");
//   - trailing dots and spaces removed from every segment other than "."
//     and ".." (Windows: "/transfer." and "/transfer "), in two flavours for
//     segments made only of dots and spaces ("...", ".. "): removed
//     entirely, or read as ".." when they start with "..".
//
// At most 48 readings are produced (usually one or two).
func pathReadings(p string) []string {
	bases := [2]string{p}
	nb := 1
	if d, ok := percentDecodeOnce(p); ok {
		bases[1] = d
		nb = 2
	}
	out := make([]string, 0, 4)
	add := func(s string) {
		s = cleanPath(s)
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, b := range bases[:nb] {
		f := foldString(b)
		const (
			tNUL = 1 << iota
			tBackslash
			tSemicolon
			tTrim
			tTrimDots
		)
		var applicable int
		if strings.IndexByte(f, 0) >= 0 {
			applicable |= tNUL
		}
		if strings.IndexByte(f, '\\') >= 0 {
			applicable |= tBackslash
		}
		if strings.IndexByte(f, ';') >= 0 {
			applicable |= tSemicolon
		}
		if strings.ContainsAny(f, ". ") {
			applicable |= tTrim | tTrimDots
		}
		for m := 0; m < 32; m++ {
			if m&^applicable != 0 || m&(tTrim|tTrimDots) == tTrim|tTrimDots {
				continue
			}
			v := f
			if m&tNUL != 0 {
				v = v[:strings.IndexByte(v, 0)]
			}
			if m&tBackslash != 0 {
				v = strings.ReplaceAll(v, `\`, "/")
			}
			if m&tSemicolon != 0 {
				v = stripPathParams(v)
			}
			if m&tTrim != 0 {
				v = trimSegments(v, false)
			}
			if m&tTrimDots != 0 {
				v = trimSegments(v, true)
			}
			add(v)
		}
	}
	return out
}

// percentDecodeOnce decodes every valid %XX escape in s, leaving invalid
// ones as they are. ok is false if s has no valid escape.
func percentDecodeOnce(s string) (string, bool) {
	i := strings.IndexByte(s, '%')
	for i >= 0 && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])) {
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			return "", false
		}
		i += 1 + j
	}
	if i < 0 {
		return "", false
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b), true
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// stripPathParams removes, from every segment, the first ';' and everything
// after it up to the next '/'.
func stripPathParams(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for s != "" {
		semi := strings.IndexByte(s, ';')
		if semi < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:semi])
		s = s[semi:]
		slash := strings.IndexByte(s, '/')
		if slash < 0 {
			break
		}
		s = s[slash:]
	}
	return b.String()
}

// trimSegments removes trailing dots and spaces from every segment other
// than "." and "..", as Windows does for file names. A segment made only of
// dots and spaces becomes empty, or, if dotDot is set and it starts with
// "..", becomes "..".
func trimSegments(s string, dotDot bool) string {
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." {
			continue
		}
		t := strings.TrimRight(seg, ". ")
		if t == "" && dotDot && strings.HasPrefix(seg, "..") {
			t = ".."
		}
		segs[i] = t
	}
	return strings.Join(segs, "/")
}

// frameworkReadings appends to dst the canonical path q and the distinct
// readings routing frameworks give it: without the extension of the last
// segment (from its first dot: "/transfer.json" and "/transfer.json.gz" are
// "/transfer"), without the first "*.php" segment that is followed by more
// ("/index.php/transfer" is "/transfer"), and without both. These readings
// are substrings of q unless the "*.php" segment is not the first, so for
// the common case nothing is allocated.
func frameworkReadings(dst []string, q string) []string {
	appendNew := func(s string) {
		if s == "" {
			return
		}
		for _, have := range dst {
			if have == s {
				return
			}
		}
		dst = append(dst, s)
	}
	appendNew(q)
	appendNew(stripExtension(q))
	if php := stripFrontController(q); php != "" {
		appendNew(php)
		appendNew(stripExtension(php))
	}
	return dst
}

// stripExtension returns q without the part of its last segment from the
// first dot, or "" if that would leave an empty segment or there is no dot.
func stripExtension(q string) string {
	slash := strings.LastIndexByte(q, '/')
	dot := strings.IndexByte(q[slash+1:], '.')
	if dot <= 0 {
		return ""
	}
	return q[:slash+1+dot]
}

// stripFrontController returns q without its first segment that ends in
// ".php" and is followed by another segment, or "" if there is none.
func stripFrontController(q string) string {
	start := 0 // index of the '/' before the segment
	for start < len(q) {
		end := strings.IndexByte(q[start+1:], '/')
		if end < 0 {
			return "" // last segment
		}
		end += start + 1
		if strings.HasSuffix(q[start+1:end], ".php") && end-start-1 > len(".php") {
			if start == 0 {
				return q[end:]
			}
			return q[:start] + q[end:]
		}
		start = end
	}
	return ""
}
