package challenge

import "testing"

func TestSplitTarget(t *testing.T) {
	tests := []struct{ uri, path, query string }{
		{"/transfer", "/transfer", ""},
		{"/transfer?", "/transfer", ""},
		{"/transfer?a=1&b=2", "/transfer", "a=1&b=2"},
		{"/a%2Fb?q=%3F?x", "/a%2Fb", "q=%3F?x"},
		{"//evil.example/x?y", "//evil.example/x", "y"},
		{"http://pay.example/pay?x=1", "/pay", "x=1"},
		{"http://pay.example", "/", ""},
		{"https://pay.example/a%2Fb", "/a%2Fb", ""},
		{"*", "*", ""},
	}
	for _, tt := range tests {
		path, query := splitTarget(tt.uri)
		if path != tt.path || query != tt.query {
			t.Errorf("splitTarget(%q) = %q, %q; want %q, %q", tt.uri, path, query, tt.path, tt.query)
		}
	}
}
