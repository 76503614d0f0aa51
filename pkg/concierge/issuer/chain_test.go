// SPDX-License-Identifier: Apache-2.0

package issuer

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

type fakeStrategy struct {
	name   string
	status error
	err    error
}

func (f fakeStrategy) Status() error { return f.status }

func (f fakeStrategy) IssueClientCert(context.Context, string, []string) (*certauthority.KeyPair, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &certauthority.KeyPair{CertPEM: []byte(f.name)}, nil
}

func TestChain(t *testing.T) {
	down, boom := errors.New("no key"), errors.New("boom")
	tests := []struct {
		name    string
		chain   Chain
		want    string
		wantErr error
	}{
		{name: "first ready wins", chain: Chain{Named{"Ta", fakeStrategy{name: "a"}}, Named{"Tb", fakeStrategy{name: "b"}}}, want: "a"},
		{name: "skips a strategy that is not ready", chain: Chain{Named{"Ta", fakeStrategy{name: "a", status: down}}, Named{"Tb", fakeStrategy{name: "b"}}}, want: "b"},
		{name: "a failing ready strategy is final", chain: Chain{Named{"Ta", fakeStrategy{name: "a", err: boom}}, Named{"Tb", fakeStrategy{name: "b"}}}, wantErr: boom},
		{name: "none ready", chain: Chain{Named{"Ta", fakeStrategy{name: "a", status: down}}}, wantErr: down},
		{name: "empty", chain: Chain{}, wantErr: ErrNoStrategy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { // not parallel: the metric is shared
			issued := func() float64 {
				return testutil.ToFloat64(servermetrics.CertificatesIssued.WithLabelValues("Ta")) +
					10*testutil.ToFloat64(servermetrics.CertificatesIssued.WithLabelValues("Tb"))
			}
			before := issued()
			kp, err := tt.chain.IssueClientCert(context.Background(), "u", nil)
			moved := issued() - before
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if moved != 0 {
					t.Errorf("a failure counted %v certificates", moved)
				}
				return
			}
			if err != nil || string(kp.CertPEM) != tt.want {
				t.Errorf("got %v, %v; want %s", kp, err, tt.want)
			}
			if want := map[string]float64{"a": 1, "b": 10}[tt.want]; moved != want {
				t.Errorf("certificates counted: %v, want one for strategy T%s", moved, tt.want)
			}
		})
	}
}
