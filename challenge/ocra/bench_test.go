package ocra_test

import (
	"testing"

	"github.com/enumgate/enumgate/challenge/ocra"
	"github.com/enumgate/enumgate/challenge/ocra/ocratest"
)

// BenchmarkCompute measures one response of the default suite
// OCRA-1:HOTP-SHA256-8:QN08 with a 32-byte key.
func BenchmarkCompute(b *testing.B) {
	s, err := ocra.ParseSuite(ocra.DefaultSuite)
	if err != nil {
		b.Fatal(err)
	}
	key := ocratest.Vectors[20].Key() // Standard 32Byte
	in := ocra.Input{Question: "12345678"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Compute(key, in); err != nil {
			b.Fatal(err)
		}
	}
}
