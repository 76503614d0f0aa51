// SPDX-License-Identifier: Apache-2.0

package issuer

import (
	"context"
	"errors"
	"testing"

	"github.com/selkie-dev/selkie/pkg/certauthority"
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
	t.Parallel()
	down, boom := errors.New("no key"), errors.New("boom")
	tests := []struct {
		name    string
		chain   Chain
		want    string
		wantErr error
	}{
		{name: "first ready wins", chain: Chain{fakeStrategy{name: "a"}, fakeStrategy{name: "b"}}, want: "a"},
		{name: "skips a strategy that is not ready", chain: Chain{fakeStrategy{name: "a", status: down}, fakeStrategy{name: "b"}}, want: "b"},
		{name: "a failing ready strategy is final", chain: Chain{fakeStrategy{name: "a", err: boom}, fakeStrategy{name: "b"}}, wantErr: boom},
		{name: "none ready", chain: Chain{fakeStrategy{name: "a", status: down}}, wantErr: down},
		{name: "empty", chain: Chain{}, wantErr: ErrNoStrategy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kp, err := tt.chain.IssueClientCert(context.Background(), "u", nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(kp.CertPEM) != tt.want {
				t.Errorf("got %v, %v; want %s", kp, err, tt.want)
			}
		})
	}
}
