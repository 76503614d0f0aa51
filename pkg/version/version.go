// SPDX-License-Identifier: Apache-2.0

// Package version reports the build's version, injected at link time with
//
//	-ldflags "-X github.com/selkie-dev/selkie/pkg/version.version=v0.1.0"
//
// It owns nothing else; commands format the Info they get from Get.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set by the linker; "dev" marks a build without ldflags.
var version = "dev"

// Info describes one build of a Selkie binary.
type Info struct {
	Version   string `json:"version"`
	GitCommit string `json:"gitCommit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the running binary's build information.
func Get() Info {
	info := Info{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.GitCommit = s.Value
			}
		}
	}
	return info
}

// String is the one-line form every binary's `version` command prints.
func (i Info) String() string {
	s := fmt.Sprintf("%s (%s, %s)", i.Version, i.GoVersion, i.Platform)
	if i.GitCommit != "" {
		s = fmt.Sprintf("%s (commit %s, %s, %s)", i.Version, i.GitCommit, i.GoVersion, i.Platform)
	}
	return s
}
