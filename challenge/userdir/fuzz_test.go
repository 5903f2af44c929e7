package userdir

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary bytes to the decoding of a stored
// value: decoding, decryption and the conversion to a challenge.User never
// panic, fail with one of the package's errors, and a value that decodes
// fully encodes back to one that decodes to the same record.
func FuzzDecodeRecord(f *testing.F) {
	k := mustKeyring(f, secretA, secretB)
	r := aliceRecord()
	r.Devices = append(r.Devices, DeviceRecord{Name: "token", Suite: "OCRA-1:HOTP-SHA1-6:QN08-PSHA1",
		Key: []byte("k"), PINHash: []byte("pin")})
	u, err := validate(r)
	if err != nil {
		f.Fatal(err)
	}
	valid, _ := json.Marshal(k.sealUser(u, true))
	f.Add(valid)
	f.Add([]byte(`{"v":1,"id":"alice"}`))
	f.Add([]byte(`{"v":1,"id":"alice","devices":[{"suite":"OCRA-1:HOTP-SHA1-6:QN08","key":"v1:00000000:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"v":1,"id":"alice","devices":[{"key":"v1::"}]}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"id":"alice"} {}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeStored(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		rec, err := k.openStored("alice", st)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("open error %v is none of the package's", err)
			}
			return
		}
		u, err := userOf(rec)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("user error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := json.Marshal(k.sealUser(u, rec.Notify))
		if err != nil {
			t.Fatal(err)
		}
		st2, err := decodeStored(again)
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		rec2, err := k.openStored("alice", st2)
		if err != nil {
			t.Fatalf("re-encoded record does not open: %v", err)
		}
		if _, err := userOf(rec2); err != nil {
			t.Fatalf("re-encoded record is invalid: %v", err)
		}
		// Re-encoding fills in the default suite; compare with that.
		for i := range rec.Devices {
			rec.Devices[i].Suite = u.Devices[i].Suite.String()
			rec.Devices[i].KID = k.primary.kid
		}
		if rec2.Phone != rec.Phone || rec2.Notify != rec.Notify || !recordsEqual(rec2, rec) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", rec, rec2)
		}
	})
}
