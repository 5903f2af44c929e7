package redisstore

import "testing"

// An index member names one challenge and its user, whatever either
// holds; anything else is refused, never misread.
func FuzzParseMember(f *testing.F) {
	f.Add("Yk9nX2lkXzIyY2hhcnNfeHh4", "alice")
	f.Add("id", "{m}:al}ice{:lock")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, id, user string) {
		if id != "" {
			gotID, gotUser, ok := parseMember(member(id, user))
			if !ok || gotID != id || gotUser != user {
				t.Fatalf("parseMember(member(%q, %q)) = %q, %q, %v", id, user, gotID, gotUser, ok)
			}
		}
		// Any string: no panic, and a parse is consistent.
		if gotID, gotUser, ok := parseMember(id + user); ok && member(gotID, gotUser) != id+user {
			t.Fatalf("parseMember(%q) = %q, %q does not round-trip", id+user, gotID, gotUser)
		}
	})
}
