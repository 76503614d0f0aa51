// SPDX-License-Identifier: Apache-2.0

package image

import (
	"encoding/json"
	"fmt"
	"strings"
)

// This file reads a Dockerfile into the Spec it builds, for TestDockerfileMatchesSelkieSpec.
// It understands exactly the instructions and shell commands Selkie's Dockerfile uses and
// refuses anything else, because a construct it skipped could change the image unseen:
// a new command in a RUN line or a new instruction in the final stage fails the test
// until this model (and SelkieSpec) learn it.
//
// The model: build stages run as root with umask 022, as in the golang image, so new
// directories are 0755 and new files 0644 (0755 for go build output), all root's; a final
// stage starts FROM scratch; COPY --from=<stage> <dir>/ <dest> copies the directory's
// entries (not the directory itself) with their modes, owned by --chown if given, and a
// destination directory that COPY creates gets the --chown owner too, as BuildKit does.

// dockerfileImage is what a Dockerfile says about the image it builds.
type dockerfileImage struct {
	// spec is the final stage's tree and config, sorted.
	spec Spec
	// goBuildFlags are the flags of the build stages' `go build` commands (all agree).
	goBuildFlags []string
	// buildEnv is the ENV of the stage the binaries are built in.
	buildEnv map[string]string
}

type instruction struct {
	line          int
	keyword, args string
}

type stage struct {
	name string
	ins  []instruction
}

// parseDockerfile reads the stages and evaluates the final one.
func parseDockerfile(text string) (dockerfileImage, error) {
	var stages []stage
	for _, in := range instructions(text) {
		if in.keyword == "FROM" {
			f := strings.Fields(in.args)
			s := stage{}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		}
		if len(stages) == 0 {
			return dockerfileImage{}, fmt.Errorf("line %d: %s before FROM", in.line, in.keyword)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	if len(stages) < 2 {
		return dockerfileImage{}, fmt.Errorf("want a build stage and a final stage, found %d stages", len(stages))
	}
	built := map[string]*buildStage{}
	out := dockerfileImage{}
	for _, s := range stages[:len(stages)-1] {
		b, err := runStage(s)
		if err != nil {
			return out, fmt.Errorf("stage %s: %w", s.name, err)
		}
		built[s.name] = b
		if b.goFlags != nil {
			if out.goBuildFlags != nil {
				return out, fmt.Errorf("stage %s builds Go programs too; one build stage is modelled", s.name)
			}
			out.goBuildFlags, out.buildEnv = b.goFlags, b.env
		}
	}
	spec, err := finalStage(stages[len(stages)-1], built)
	out.spec = spec
	return out, err
}

// instructions joins continuation lines and drops comments and blank lines.
func instructions(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if body, more := strings.CutSuffix(line, `\`); more {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		keyword, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, keyword: strings.ToUpper(keyword), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// finalStage evaluates the last stage into a Spec.
func finalStage(s stage, built map[string]*buildStage) (Spec, error) {
	if base := strings.Fields(s.ins[0].args); len(base) == 0 || base[0] != "scratch" {
		return Spec{}, fmt.Errorf("line %d: the final stage must start FROM scratch (a base image's files are not modelled)", s.ins[0].line)
	}
	tree := fsTree{}
	var cfg Config
	for _, in := range s.ins[1:] {
		var err error
		switch in.keyword {
		case "COPY":
			err = copyFromStage(tree, in.args, built)
		case "ENV":
			var pairs [][2]string
			if pairs, err = envPairs(in.args); err == nil {
				for _, kv := range pairs {
					if strings.Contains(kv[1], "$") {
						err = fmt.Errorf("ENV %s: variables in the final stage are not modelled", in.args)
					}
					cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
				}
			}
		case "USER":
			cfg.User = in.args
		case "CMD":
			err = jsonArgs(in.args, &cfg.Cmd)
		case "ENTRYPOINT":
			err = jsonArgs(in.args, &cfg.Entrypoint)
		default:
			err = fmt.Errorf("%s is not modelled in the final stage", in.keyword)
		}
		if err != nil {
			return Spec{}, fmt.Errorf("line %d: %w", in.line, err)
		}
	}
	spec := Spec{Config: cfg}
	for _, f := range tree {
		spec.Files = append(spec.Files, f)
	}
	return spec.sorted(), nil
}

// copyFromStage applies COPY --from=<stage> [--chown=U:G] <dir>/ <dest>.
func copyFromStage(tree fsTree, args string, built map[string]*buildStage) error {
	var from *buildStage
	owner := -1
	var paths []string
	for _, f := range strings.Fields(args) {
		switch {
		case strings.HasPrefix(f, "--from="):
			if from = built[strings.TrimPrefix(f, "--from=")]; from == nil {
				return fmt.Errorf("COPY %s: no such build stage", f)
			}
		case strings.HasPrefix(f, "--chown="):
			var uid, gid int
			if _, err := fmt.Sscanf(strings.TrimPrefix(f, "--chown="), "%d:%d", &uid, &gid); err != nil || uid != gid {
				return fmt.Errorf("COPY %s: only numeric UID:GID with UID = GID is modelled", f)
			}
			owner = uid
		case strings.HasPrefix(f, "--"):
			return fmt.Errorf("COPY %s is not modelled", f)
		default:
			paths = append(paths, f)
		}
	}
	if from == nil || len(paths) != 2 || !strings.HasSuffix(paths[0], "/") {
		return fmt.Errorf("COPY %s: only COPY --from=<stage> <dir>/ <dest> is modelled", args)
	}
	entries := from.tree.under(paths[0])
	if len(entries) == 0 {
		return fmt.Errorf("COPY %s copies nothing", args)
	}
	dest := cleanAbs(paths[1])
	createdOwner := max(owner, 0)
	if err := tree.mkdirAll(dest, createdOwner); err != nil {
		return err
	}
	for _, f := range entries {
		f.Path = cleanAbs(dest + strings.TrimPrefix(f.Path, cleanAbs(paths[0])))
		if owner >= 0 {
			f.UID, f.GID = owner, owner
		}
		if _, exists := tree[f.Path]; exists {
			return fmt.Errorf("COPY %s overwrites %s, which is not modelled", args, f.Path)
		}
		tree[f.Path] = f
	}
	return nil
}

// envPairs reads ENV KEY=value ... (and the old ENV KEY value form).
func envPairs(args string) ([][2]string, error) {
	words, err := plainWords(args)
	if err != nil || len(words) == 0 {
		return nil, fmt.Errorf("ENV %s: %v", args, err)
	}
	if !strings.Contains(words[0], "=") {
		return [][2]string{{words[0], strings.Join(words[1:], " ")}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("ENV %s: %q is not KEY=value", args, w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// setEnv sets key in env, in place if present, as a later ENV overrides an earlier one.
func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// jsonArgs reads the exec form of CMD and ENTRYPOINT; the shell form would need a shell,
// which the image does not have.
func jsonArgs(args string, into *[]string) error {
	if err := json.Unmarshal([]byte(args), into); err != nil {
		return fmt.Errorf("%s is not the JSON (exec) form: %w", args, err)
	}
	return nil
}
