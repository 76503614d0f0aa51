// SPDX-License-Identifier: Apache-2.0

package serverlog

import (
	"bytes"
	"context"
	"flag"
	"log/slog"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// klogDebugVerbosity is klog's -v at --log-level debug: the Kubernetes libraries' request
// and cache details (their V(4) and below), without the bodies of V(5) and up.
const klogDebugVerbosity = "4"

// RouteKlog sends what the Kubernetes libraries (k8s.io/apiserver, client-go) log with
// klog into log, so that a server writes one stream of JSON lines:
//   - structured calls (InfoS, ErrorS, and V(n).InfoS, which become slog level -n) keep
//     their keys and values;
//   - printf-style calls keep their severity: info, warning and error become slog's Info,
//     Warn and Error, and fatal Error with fatal=true.
//
// Messages that klog gates by verbosity (V(n)) are produced only when log is at debug.
func RouteKlog(log *slog.Logger) {
	var fs flag.FlagSet
	klog.InitFlags(&fs)
	v := "0"
	if log.Enabled(context.Background(), slog.LevelDebug) {
		v = klogDebugVerbosity
	}
	_ = fs.Set("v", v) // a valid value of klog's own flag
	log = log.With("logger", "klog")
	klog.SetLoggerWithOptions(logr.FromSlogHandler(log.Handler()), klog.ContextualLogger(true),
		klog.WriteKlogBuffer(func(line []byte) { writeKlogLine(log, line) }))
}

// writeKlogLine logs one printf-style klog line: "Lmmdd hh:mm:ss.uuuuuu threadid
// file:line] message", where L is the severity (I, W, E or F).
func writeKlogLine(log *slog.Logger, line []byte) {
	line = bytes.TrimRight(line, "\n")
	level, attrs := slog.LevelInfo, []slog.Attr(nil)
	msg := line
	if header, rest, ok := bytes.Cut(line, []byte("] ")); ok && len(header) > 0 && bytes.IndexByte(header, '\n') < 0 {
		switch header[0] {
		case 'I':
		case 'W':
			level = slog.LevelWarn
		case 'E':
			level = slog.LevelError
		case 'F':
			level = slog.LevelError
			attrs = append(attrs, slog.Bool("fatal", true))
		default:
			header = nil
		}
		if header != nil {
			msg = rest
			if fields := bytes.Fields(header); len(fields) > 0 {
				attrs = append(attrs, slog.String("source", string(fields[len(fields)-1])))
			}
		}
	}
	ctx := context.Background()
	if !log.Enabled(ctx, level) {
		return
	}
	log.LogAttrs(ctx, level, string(msg), attrs...)
}
