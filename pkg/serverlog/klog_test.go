// SPDX-License-Identifier: Apache-2.0

package serverlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// klogLines routes klog into a JSON logger at level, runs log and returns the lines.
func klogLines(t *testing.T, level slog.Level, log func()) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	RouteKlog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level})))
	t.Cleanup(func() {
		klog.ClearLogger()
		var fs flag.FlagSet
		klog.InitFlags(&fs)
		_ = fs.Set("v", "0")
	})
	log()
	klog.Flush()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestRouteKlogKeepsSeverityAndFields(t *testing.T) {
	lines := klogLines(t, slog.LevelInfo, func() {
		klog.Info("plain info")
		klog.Warningf("a %s warning", "formatted")
		klog.Error("an error")
		klog.InfoS("structured", "resource", "secrets", "count", 3)
		klog.ErrorS(errors.New("boom"), "structured error", "name", "x")
		klog.V(4).Info("verbose, hidden at info")
		klog.V(4).InfoS("verbose structured, hidden at info")
	})
	want := []struct{ level, msg string }{
		{"INFO", "plain info"}, {"WARN", "a formatted warning"}, {"ERROR", "an error"},
		{"INFO", "structured"}, {"ERROR", "structured error"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d: %v", len(lines), len(want), lines)
	}
	for i, w := range want {
		if lines[i]["level"] != w.level || lines[i]["msg"] != w.msg || lines[i]["logger"] != "klog" {
			t.Errorf("line %d = %v, want level %s msg %q logger klog", i, lines[i], w.level, w.msg)
		}
	}
	if src, _ := lines[1]["source"].(string); !strings.HasPrefix(src, "klog_test.go:") {
		t.Errorf("the printf-style line's source = %q, want klog_test.go:<line>", src)
	}
	if lines[3]["resource"] != "secrets" || lines[3]["count"] != float64(3) {
		t.Errorf("InfoS lost its fields: %v", lines[3])
	}
	if lines[4]["err"] != "boom" || lines[4]["name"] != "x" {
		t.Errorf("ErrorS lost its error or fields: %v", lines[4])
	}
}

func TestRouteKlogVerboseAtDebug(t *testing.T) {
	lines := klogLines(t, slog.LevelDebug, func() {
		klog.V(4).InfoS("verbose structured", "k", "v")
		klog.V(5).InfoS("too verbose")
	})
	if len(lines) != 1 || lines[0]["msg"] != "verbose structured" || lines[0]["level"] != "DEBUG" {
		t.Fatalf("got %v, want the V(4) line at DEBUG only", lines)
	}
}

func TestWriteKlogLineWithoutHeader(t *testing.T) {
	var buf bytes.Buffer
	writeKlogLine(slog.New(slog.NewJSONHandler(&buf, nil)), []byte("no header here\n"))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "no header here" || m["level"] != "INFO" {
		t.Fatalf("got %s (%v)", buf.String(), err)
	}
}
