// SPDX-License-Identifier: Apache-2.0

package suffix

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
)

// WrapConfig makes the generated clientsets, which are compiled for the default suffix,
// talk to the groups of suffix sfx: request paths and JSON bodies name the install's
// groups, and response bodies (watch streams included) are turned back into the
// default groups the clientsets decode. With the default suffix cfg is returned as it
// is. The rewrite touches only API group names followed by "/" (apiVersion values and
// paths) and the clientsets' own groups, and is for JSON, the only content type CRDs
// and the aggregated APIs speak here.
func WrapConfig(cfg *rest.Config, sfx string) *rest.Config {
	if sfx == Default || sfx == "" {
		return cfg
	}
	out := rest.CopyConfig(cfg)
	out.ContentType = "application/json"
	out.AcceptContentTypes = "application/json"
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &rewriter{next: rt, sfx: sfx} })
	return out
}

type rewriter struct {
	next http.RoundTripper
	sfx  string
}

// components are the group families every Selkie API group belongs to.
//
//nolint:gochecknoglobals // a read-only table of the groups' components.
var components = []string{".concierge.", ".supervisor."}

func (r *rewriter) toInstall() *strings.Replacer {
	var pairs []string
	for _, c := range components {
		pairs = append(pairs, c+Default+"/", c+r.sfx+"/")
	}
	return strings.NewReplacer(pairs...)
}

func (r *rewriter) toDefault() *strings.Replacer {
	var pairs []string
	for _, c := range components {
		pairs = append(pairs, c+r.sfx+"/", c+Default+"/")
	}
	return strings.NewReplacer(pairs...)
}

// RoundTrip rewrites the request for the install's groups and the response back.
func (r *rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Path = r.toInstall().Replace(req.URL.Path)
	if out.URL.RawPath != "" {
		out.URL.RawPath = r.toInstall().Replace(req.URL.RawPath)
	}
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = []byte(r.toInstall().Replace(string(body)))
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.Header.Set("Content-Length", strconv.Itoa(len(body)))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := r.next.RoundTrip(out)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &lineRewriter{r: bufio.NewReader(resp.Body), c: resp.Body, rep: r.toDefault()}
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return resp, nil
}

// lineRewriter rewrites a body line by line, so that watch streams (one JSON event per
// line) are rewritten as they arrive.
type lineRewriter struct {
	r   *bufio.Reader
	c   io.Closer
	rep *strings.Replacer
	buf []byte
}

func (l *lineRewriter) Read(p []byte) (int, error) {
	for len(l.buf) == 0 {
		line, err := l.r.ReadBytes('\n')
		if len(line) > 0 {
			l.buf = []byte(l.rep.Replace(string(line)))
		}
		if err != nil {
			if len(l.buf) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

func (l *lineRewriter) Close() error { return l.c.Close() }
