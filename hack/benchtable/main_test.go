// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkTokenCredentialRequest-2   	       1	15000000000 ns/op	       812.0 tcr-req/s	         9.1 tcr-p99-ms	       950.0 whoami-req/s	         6.0 whoami-p99-ms	0.85 tcr/whoami	790 tcr-cel-req/s	9.5 tcr-cel-p99-ms
BenchmarkSupervisorRefreshExchange-2   	       1	 12 ns/op	 120.0 pair-req/s	 40 pair-p50-ms	 4.1 pair-cpu-ms/op	 250 upstream-refresh-req/s	 20 upstream-refresh-p50-ms	 12 supervisor-idle-cpu-ms/s
BenchmarkIdleRSS 1 1 ns/op 70 concierge-rss-MB 80 supervisor-rss-MB 25 concierge-anon-MB 26 supervisor-anon-MB
BenchmarkIdleRSSInCluster-2 1 1 ns/op 55 concierge-rss-MB 61 supervisor-rss-MB 30 concierge-anon-MB 35 supervisor-anon-MB
PASS
`

func TestRows(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := rows(r)
	want := []struct{ met, contains string }{
		{"yes", "812/s, p99 9.1 ms (0.85× the floor)"},                                                               // 0.8× holds; the floor is below 1,250/s
		{"no", "4.10 ms CPU per pair (4.00 ms without"},                                                              // the CPU target fails; Dex does not keep up
		{"", "BenchmarkProxyProcesses did not run"},                                                                  // absent
		{"no", "55 MB / 61 MB (anonymous 30 / 35 MB); as processes started from the linker's output: 70 MB / 80 MB"}, // the supervisor's pod is over
		{"", "BenchmarkSelkieImage did not run"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].met != w.met || !strings.Contains(got[i].measured, w.contains) {
			t.Errorf("row %d = %+v, want met %q and %q", i, got[i], w.met, w.contains)
		}
	}
}

// The refresh row's verdict is on the pairs' own CPU: the supervisor's background CPU,
// measured while it served nothing, is taken out of the gross figure.
func TestPairCPUWithoutBackground(t *testing.T) {
	const line = "BenchmarkSupervisorRefreshExchange-2 1 12 ns/op 40 pair-req/s 25 pair-p50-ms 3.3 pair-cpu-ms/op 80 upstream-refresh-req/s 12 upstream-refresh-p50-ms 20 supervisor-idle-cpu-ms/s\n"
	r, err := parse(strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	got := rows(r)[1]
	if got.met != "yes" || !strings.Contains(got.measured, "3.30 ms CPU per pair (2.80 ms without the background)") ||
		!strings.Contains(got.floor, "20.0 ms/s") {
		t.Errorf("row = %+v, want met yes with 2.80 ms net of a 20 ms/s background", got)
	}
}

// The pods decide the memory row; the processes alone do not make a verdict.
func TestRSSRowIsThePods(t *testing.T) {
	r, err := parse(strings.NewReader("BenchmarkIdleRSS 1 1 ns/op 70 concierge-rss-MB 80 supervisor-rss-MB 25 concierge-anon-MB 26 supervisor-anon-MB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(r)[3]; got.met != "" || !strings.Contains(got.measured, "BenchmarkIdleRSSInCluster did not run") {
		t.Errorf("without the pods' figure: %+v, want not measured", got)
	}
	r, err = parse(strings.NewReader("BenchmarkIdleRSSInCluster-2 1 1 ns/op 55 concierge-rss-MB 58 supervisor-rss-MB 20 concierge-anon-MB 21 supervisor-anon-MB\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(r)[3]; got.met != "yes" || !strings.Contains(got.measured, "55 MB / 58 MB") {
		t.Errorf("pods under the target: %+v, want met yes", got)
	}
}

// With the upstream that keeps up measured, its pairs decide: their CPU, and 300 pairs/s.
func TestPairRowDecidedByTheFastUpstream(t *testing.T) {
	const dex = "BenchmarkSupervisorRefreshExchange-2 1 12 ns/op 40 pair-req/s 25 pair-p50-ms 4.5 pair-cpu-ms/op 80 upstream-refresh-req/s 12 upstream-refresh-p50-ms 10 supervisor-idle-cpu-ms/s"
	for _, c := range []struct {
		fast, met, contains string
	}{
		{"310 fast-pair-req/s 15 fast-pair-p50-ms 2.9 fast-pair-cpu-ms/op", "yes", "310 pairs/s, p50 15.0 ms, 2.87 ms CPU per pair"},
		{"110 fast-pair-req/s 15 fast-pair-p50-ms 2.9 fast-pair-cpu-ms/op", "no", "110 pairs/s, p50 15.0 ms, 2.81 ms CPU per pair"}, // too few pairs
		{"310 fast-pair-req/s 15 fast-pair-p50-ms 3.2 fast-pair-cpu-ms/op", "no", "3.17 ms CPU per pair"},                           // too much CPU
	} {
		r, err := parse(strings.NewReader(dex + " " + c.fast + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := rows(r)[1]; got.met != c.met || !strings.Contains(got.measured, c.contains) || !strings.Contains(got.measured, "4.50 ms CPU per pair") {
			t.Errorf("%s: %+v, want met %q and %q beside Dex's figure", c.fast, got, c.met, c.contains)
		}
	}
}
