// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"errors"
	"testing"
)

func TestPathToSelf(t *testing.T) {
	exe := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	onPath := func(name string) (string, error) {
		if name == "selkie" {
			return "/usr/local/bin/selkie", nil
		}
		return "", errors.New("not found")
	}
	for _, tt := range []struct {
		name, exe, argv0, want string
		wantErr                bool
	}{
		{name: "the CLI binary", exe: "/opt/selkie/selkie", argv0: "selkie", want: "/opt/selkie/selkie"},
		{name: "run by its path", exe: "/opt/selkie/selkie", argv0: "/opt/selkie/selkie", want: "/opt/selkie/selkie"},
		{name: "through the image's link, found on PATH", exe: "/usr/local/bin/selkie-server", argv0: "selkie", want: "/usr/local/bin/selkie"},
		{name: "through a link by path", exe: "/usr/local/bin/selkie-server", argv0: "/usr/local/bin/selkie", want: "/usr/local/bin/selkie"},
		{name: "a name not on PATH (an alias)", exe: "/opt/selkie/selkie", argv0: "sk", want: "/opt/selkie/selkie"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pathToSelf(exe(tt.exe), tt.argv0, onPath)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("pathToSelf = %q, %v; want %q (error %t)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
