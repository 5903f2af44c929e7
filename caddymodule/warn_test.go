package caddymodule

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestAnEmptyUserPlaceholderIsWarnedAboutOnceAMinute(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	h := &Handler{User: "{http.request.header.X-Usr}", logger: zap.New(core)}
	for range 5 {
		h.warnNoUser("transfer", "/transfer")
	}
	entries := logs.All()
	if len(entries) != 1 {
		t.Fatalf("%d warnings for 5 requests, want 1", len(entries))
	}
	if got := entries[0].ContextMap()["placeholder"]; got != "{http.request.header.X-Usr}" {
		t.Fatalf("the warning names placeholder %v", got)
	}
}
