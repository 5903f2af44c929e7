package ocratest_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"strconv"
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/ocratest"
)

var update = flag.Bool("update", false, "rewrite testdata/rfc6287.json from the table")

// jsonFile is testdata/rfc6287.json: the table of RFC 6287 Appendix C as
// data for other implementations (the JavaScript E-num app reads it in
// the browser tests).
const jsonFile = "testdata/rfc6287.json"

type vectorFile struct {
	Title       string            `json:"title"`
	Version     int               `json:"version"`
	Description string            `json:"description"`
	Fields      map[string]string `json:"fields"`
	Vectors     []jsonVector      `json:"vectors"`
}

type jsonVector struct {
	Name       string `json:"name"`
	Section    string `json:"section"`
	Role       string `json:"role,omitempty"`
	Suite      string `json:"suite"`
	KeyHex     string `json:"key_hex"`
	Counter    string `json:"counter,omitempty"`
	Question   string `json:"question"`
	Mutual     bool   `json:"mutual,omitempty"`
	PIN        string `json:"pin,omitempty"`
	PINHashHex string `json:"pin_hash_hex,omitempty"`
	Timestamp  string `json:"timestamp,omitempty"`
	Answer     string `json:"answer"`
}

func fromTable() vectorFile {
	f := vectorFile{
		Title:   "RFC 6287 (OCRA) Appendix C test vectors",
		Version: 1,
		Description: "All 70 test vectors of RFC 6287 Appendix C (https://www.rfc-editor.org/rfc/rfc6287#appendix-C), " +
			"generated from package github.com/enumgate/enumgate/challenge/ocra/ocratest and checked against package ocra. " +
			"answer = OCRA(suite, key, counter, question, PIN, timestamp).",
		Fields: map[string]string{
			"name":         "a unique name of the vector",
			"section":      "C.1 one-way, C.2 mutual, C.3 signature",
			"role":         "C.2 only: server or client computation",
			"suite":        "the OCRA suite",
			"key_hex":      "the key, hexadecimal",
			"counter":      "the counter C, decimal (suites with C)",
			"question":     "the question as printed in the RFC; in C.2 the two parties' questions concatenated",
			"mutual":       "the question is two questions concatenated (may be twice the suite's length)",
			"pin":          "the PIN (suites with P), hashed with the suite's PIN hash",
			"pin_hash_hex": "the hashed PIN, hexadecimal",
			"timestamp":    "the time-steps T, hexadecimal (suites with T)",
			"answer":       "the OCRA response",
		},
	}
	for _, v := range ocratest.Vectors {
		j := jsonVector{Name: v.Name(), Section: v.Section, Role: v.Role, Suite: v.Suite, KeyHex: v.KeyHex,
			Question: v.Question, Mutual: v.Mutual, PIN: v.PIN, Timestamp: v.Timestamp, Answer: v.Want}
		if v.HasCounter {
			j.Counter = strconv.FormatUint(v.Counter, 10)
		}
		if v.PIN != "" {
			j.PINHashHex = ocratest.PINHashSHA1
		}
		f.Vectors = append(f.Vectors, j)
	}
	return f
}

func encode(t *testing.T, f vectorFile) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestJSONFileIsTheTable: testdata/rfc6287.json holds exactly the table,
// byte for byte (go test -update rewrites it).
func TestJSONFileIsTheTable(t *testing.T) {
	want := encode(t, fromTable())
	if *update {
		if err := os.WriteFile(jsonFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the table; run go test ./challenge/ocra/ocratest -update", jsonFile)
	}
}

// TestJSONVectorsComputeWithOCRA: every vector of the JSON file, read as
// another implementation reads it, is reproduced by package ocra.
func TestJSONVectorsComputeWithOCRA(t *testing.T) {
	raw, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 70 {
		t.Fatalf("%d vectors, want 70", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			s, err := ocra.ParseSuite(v.Suite)
			if err != nil {
				t.Fatal(err)
			}
			key := mustHex(t, v.KeyHex)
			in := ocra.Input{Question: v.Question, Mutual: v.Mutual, PIN: v.PIN}
			if v.Counter != "" {
				if in.Counter, err = strconv.ParseUint(v.Counter, 10, 64); err != nil {
					t.Fatal(err)
				}
				in.HasCounter = true
			}
			if v.Timestamp != "" {
				if in.Timestamp, err = strconv.ParseUint(v.Timestamp, 16, 64); err != nil {
					t.Fatal(err)
				}
				in.HasTimestamp = true
			}
			got, err := s.Compute(key, in)
			if err != nil || got != v.Answer {
				t.Fatalf("Compute = %q, %v; want %q", got, err, v.Answer)
			}
			if v.PINHashHex != "" {
				in.PIN, in.PINHash = "", mustHex(t, v.PINHashHex)
				if got, err := s.Compute(key, in); err != nil || got != v.Answer {
					t.Fatalf("Compute with pin_hash_hex = %q, %v; want %q", got, err, v.Answer)
				}
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
