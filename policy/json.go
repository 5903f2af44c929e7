package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
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

// parseJSON parses body as exactly one JSON value (trailing data other than
// white space is an error), keeping numbers as written.
func parseJSON(body []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	n, err := parseJSONValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return n, nil
}

func parseJSONValue(dec *json.Decoder, depth int) (*jnode, error) {
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
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k)
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &jnode{kind: jArray}
			for dec.More() {
				v, err := parseJSONValue(dec, depth+1)
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

type walkState uint8

const (
	walkMissing walkState = iota
	walkFound
	walkAmbiguous
)

// walk follows a dotted field through objects (by key) and arrays (by
// decimal index without leading zeros). At each object the key must occur
// exactly once, and no other key may equal it ignoring case (Go's
// encoding/json would take that one for it): otherwise the field is
// ambiguous.
func (n *jnode) walk(field string) (*jnode, walkState) {
	cur := n
	for seg := range strings.SplitSeq(field, ".") {
		switch cur.kind {
		case jObject:
			var next *jnode
			exact, similar := 0, 0
			for i, k := range cur.keys {
				switch {
				case k == seg:
					exact++
					next = cur.elems[i]
				case strings.EqualFold(k, seg):
					similar++
				}
			}
			switch {
			case exact == 1 && similar == 0:
				cur = next
			case exact == 0 && similar == 0:
				return nil, walkMissing
			default:
				return nil, walkAmbiguous
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
