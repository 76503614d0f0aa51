// SPDX-License-Identifier: Apache-2.0

package versioncmd

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/version"
)

func TestVersionCommand(t *testing.T) {
	t.Parallel()
	info := version.Info{Version: "v1.2.3", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "text", args: nil, want: "selkie v1.2.3 (go1.26.8, linux/amd64)\n"},
		{name: "json", args: []string{"-o", "json"}, want: "{\n  \"version\": \"v1.2.3\",\n  \"goVersion\": \"go1.26.8\",\n  \"platform\": \"linux/amd64\"\n}\n"},
		{name: "yaml", args: []string{"-o", "yaml"}, want: "goVersion: go1.26.8\nplatform: linux/amd64\nversion: v1.2.3\n"},
		{name: "bad format", args: []string{"-o", "xml"}, wantErr: `unknown output format "xml": use text, yaml or json`},
		{name: "extra args", args: []string{"now"}, wantErr: `unknown command "now" for "version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := NewCommand("selkie", func() version.Info { return info })
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if tt.name == "json" {
				var got version.Info
				if err := json.Unmarshal(out.Bytes(), &got); err != nil || got != info {
					t.Errorf("json round trip = %+v, %v", got, err)
				}
			}
		})
	}
}
