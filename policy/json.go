package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

type jKind uint8

const (
	jString jKind = iota
	jNumber
	jBool
	jNull
	jObject
	jArray
)

// jnode is a parsed JSON value that, unlike map[string]any, keeps duplicate
// keys, so that they can be detected.
type jnode struct {
	kind  jKind
	text  string   // string value, number as written, "true"/"false"
	keys  []string // object keys, in order, duplicates kept
	elems []*jnode // object values (parallel to keys) or array elements
}

var errJSONDepth = errors.New("JSON nested too deeply")

// jsonParser parses one body and notes whether any object, anywhere, has a
// key twice (compared after unescaping, as every decoder compares them).
type jsonParser struct {
	dec  *json.Decoder
	dups bool
}

// parseJSON parses body as exactly one JSON value (trailing data other than
// white space is an error), keeping numbers as written and duplicate keys.
// dups reports whether some object has a key twice.
func parseJSON(body []byte) (n *jnode, dups bool, err error) {
	p := jsonParser{dec: json.NewDecoder(bytes.NewReader(body))}
	p.dec.UseNumber()
	n, err = p.value(0)
	if err != nil {
		return nil, false, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, false, errors.New("trailing data after JSON value")
	}
	return n, p.dups, nil
}

func (p *jsonParser) value(depth int) (*jnode, error) {
	dec := p.dec
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, errJSONDepth
		}
		switch t {
		case '{':
			n := &jnode{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			if !p.dups && hasDuplicate(n.keys) {
				p.dups = true
			}
			return n, nil
		case '[':
			n := &jnode{kind: jArray}
			for dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		}
		return nil, errors.New("unexpected delimiter")
	case string:
		return &jnode{kind: jString, text: t}, nil
	case json.Number:
		return &jnode{kind: jNumber, text: string(t)}, nil
	case bool:
		if t {
			return &jnode{kind: jBool, text: "true"}, nil
		}
		return &jnode{kind: jBool, text: "false"}, nil
	case nil:
		return &jnode{kind: jNull}, nil
	}
	return nil, errors.New("unexpected JSON token")
}

// hasDuplicate reports whether keys has a key twice.
func hasDuplicate(keys []string) bool {
	if len(keys) <= 16 {
		for i, k := range keys {
			for _, l := range keys[:i] {
				if k == l {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; ok {
			return true
		}
		seen[k] = struct{}{}
	}
	return false
}

type walkState uint8

const (
	walkMissing walkState = iota
	walkFound
	walkRepeated  // a key on the way occurs twice
	walkLookalike // a look-alike of a key on the way occurs
)

// walk follows a dotted field, split into segs, through objects (by key)
// and arrays (by decimal index without leading zeros). At each object the
// key must occur exactly once, and no other key may be a look-alike of the
// rest of the field (see lookalike: a case variant, as Go's encoding/json
// would take it for the key, one with spaces or brackets, or a flat
// dotted key): otherwise the field is ambiguous.
func (n *jnode) walk(segs []string) (*jnode, walkState) {
	cur := n
	for i, seg := range segs {
		switch cur.kind {
		case jObject:
			var next *jnode
			exact := 0
			for j, k := range cur.keys {
				switch {
				case k == seg:
					exact++
					next = cur.elems[j]
				case lookalike(k, segs[i:]):
					return nil, walkLookalike
				}
			}
			switch exact {
			case 0:
				return nil, walkMissing
			case 1:
				cur = next
			default:
				return nil, walkRepeated
			}
		case jArray:
			i, ok := arrayIndex(seg)
			if !ok || i >= len(cur.elems) {
				return nil, walkMissing
			}
			cur = cur.elems[i]
		default:
			return nil, walkMissing
		}
	}
	return cur, walkFound
}

// arrayIndex parses a decimal index without sign or leading zeros.
func arrayIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	i := 0
	for j := 0; j < len(s); j++ {
		if !isDigit(s[j]) {
			return 0, false
		}
		i = i*10 + int(s[j]-'0')
	}
	return i, true
}
