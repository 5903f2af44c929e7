package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDisplayRunes bounds a shown value; a longer one is refused, not cut.
const maxDisplayRunes = 128

// displayProblem says why s cannot be shown as it is, or returns "". A
// shown value is shown exactly as the upstream receives it, so it must
// look like what it is: valid UTF-8 of at most 128 runes, printable
// (letters, marks, numbers, punctuation, symbols) with ASCII spaces between
// them, and nothing that renders as nothing or changes how its
// neighbours render: no control or format characters (zero-width
// characters, bidi controls, soft hyphen), no line or paragraph
// separators, no other white space, no private-use, surrogate or
// unassigned code points, no U+FFFD (what a decoder leaves of bytes it
// could not read), no other default-ignorable code points (Hangul fillers,
// variation selectors), no braille blank, and no space at either end.
func displayProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if utf8.RuneCountInString(s) > maxDisplayRunes {
		return "is longer than 128 characters"
	}
	if s != "" && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return "has a leading or trailing space"
	}
	for _, r := range s {
		switch {
		case r == ' ':
		case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
			return "contains white space other than a space"
		case r == utf8.RuneError:
			return "contains U+FFFD"
		case !unicode.IsGraphic(r):
			return "contains a control, format, separator, private-use or unassigned character"
		case unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) || r == '\u2800':
			return "contains an invisible character"
		}
	}
	return ""
}

// lookalike reports whether an object or form key that is not spelled as
// the field may still be read as (part of) it by some upstream: read
// leniently — cut at the first NUL (C-based parsers), split at "[", "]"
// and "." (PHP, Rails, qs and dotted-path binders), each part trimmed of
// white space and empty parts dropped, compared ignoring case as Go's
// encoding/json compares keys (so "ſ" is "s" and the Kelvin sign is "k") —
// its parts and the field's remaining segments rest agree as far as both
// go. So "Amount", "amount ", "amount[]", "amount[x]", "amount\x00x" are
// look-alikes of "amount", and "payee", "PAYEE" and "payee.wallet" are
// look-alikes of "payee.wallet" in an object where the walk expects the
// key "payee".
func lookalike(key string, rest []string) bool {
	if i := strings.IndexByte(key, 0); i >= 0 {
		key = key[:i]
	}
	matched := 0
	for key != "" && matched < len(rest) {
		var part string
		if j := strings.IndexAny(key, "[]."); j >= 0 {
			part, key = key[:j], key[j+1:]
		} else {
			part, key = key, ""
		}
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.EqualFold(part, rest[matched]) {
			return false
		}
		matched++
	}
	return matched > 0
}

// phpName is the name PHP gives a top-level form key: leading spaces
// dropped, and " ", "." and "[" (a "[" without its "]") turned into "_".
// Two keys with the same phpName, ignoring case, are one variable to some
// PHP upstream.
func phpName(k string) string {
	k = strings.TrimLeft(k, " ")
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '[':
			return '_'
		}
		return r
	}, k)
}

// mask returns the display form of a shown value under a mask kind.
func mask(kind, v string) string {
	switch kind {
	case MaskLast4:
		n := utf8.RuneCountInString(v)
		i := 0
		for ; n > 4; n-- {
			_, size := utf8.DecodeRuneInString(v[i:])
			i += size
		}
		return "\u2022\u2022\u2022\u2022 " + v[i:]
	}
	return v
}
