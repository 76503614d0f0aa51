// SPDX-License-Identifier: Apache-2.0

package image

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// This file models a Dockerfile build stage: its RUN lines' shell commands on a tree of
// files, as far as Selkie's Dockerfile uses them (see dockerfile_parse_test.go).

// fsTree is a file tree by absolute path; Source says where each file's bytes came from.
type fsTree map[string]File

func cleanAbs(p string) string { return path.Clean("/" + p) }

// mkdirAll creates p and its missing parents as 0755 directories owned by owner.
func (t fsTree) mkdirAll(p string, owner int) error {
	p = cleanAbs(p)
	if p == "/" {
		return nil
	}
	if f, ok := t[p]; ok {
		if !f.Mode.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", p)
		}
		return nil
	}
	if err := t.mkdirAll(path.Dir(p), owner); err != nil {
		return err
	}
	t[p] = dir(p, 0o755, owner)
	return nil
}

// create adds a root-owned regular file whose directory must exist.
func (t fsTree) create(p string, mode fs.FileMode, src Source) error {
	p = cleanAbs(p)
	if parent := path.Dir(p); parent != "/" && !t[parent].Mode.IsDir() {
		return fmt.Errorf("cannot create %s: no directory %s", p, parent)
	}
	if t[p].Mode&fs.ModeSymlink != 0 {
		return fmt.Errorf("writing %s through the symbolic link is not modelled", p)
	}
	t[p] = File{Path: p, Mode: mode, Source: src}
	return nil
}

// symlink adds a root-owned symbolic link at p to target, kept as written, as ln -s
// does; p's directory must exist and p must not (ln without -f refuses to replace it).
func (t fsTree) symlink(p, target string) error {
	p = cleanAbs(p)
	if parent := path.Dir(p); parent != "/" && !t[parent].Mode.IsDir() {
		return fmt.Errorf("cannot create %s: no directory %s", p, parent)
	}
	if f, ok := t[p]; ok {
		if f.Mode.IsDir() {
			return fmt.Errorf("ln -s %s %s: a link into a directory is not modelled", target, p)
		}
		return fmt.Errorf("ln -s %s %s: %s exists", target, p, p)
	}
	t[p] = File{Path: p, Mode: fs.ModeSymlink | 0o777, Source: Source{Link: target}}
	return nil
}

// resolve follows symbolic links from p to the entry they end at, which must exist in
// the tree: the model knows nothing outside it.
func (t fsTree) resolve(p string) (string, error) {
	start := p
	for range 40 { // Linux's MAXSYMLINKS
		f, ok := t[p]
		if !ok {
			return "", fmt.Errorf("%s: no such file (from %s)", p, start)
		}
		if f.Mode&fs.ModeSymlink == 0 {
			return p, nil
		}
		if target := f.Source.Link; path.IsAbs(target) {
			p = path.Clean(target)
		} else {
			p = cleanAbs(path.Join(path.Dir(p), target))
		}
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", start)
}

// under returns the entries strictly below dir.
func (t fsTree) under(dir string) []File {
	prefix := strings.TrimSuffix(cleanAbs(dir), "/") + "/"
	var out []File
	for p, f := range t {
		if strings.HasPrefix(p, prefix) {
			out = append(out, f)
		}
	}
	return out
}

// buildStage is a build stage after its RUN lines ran.
type buildStage struct {
	tree    fsTree
	env     map[string]string
	goFlags []string
	workdir string
}

// outDir is where build stages put what the final stage copies; only RUN may write there,
// so that COPY from the build context cannot slip files past the model.
const outDir = "/out"

func runStage(s stage) (*buildStage, error) {
	b := &buildStage{tree: fsTree{}, env: map[string]string{}, workdir: "/"}
	for _, in := range s.ins[1:] {
		var err error
		switch in.keyword {
		case "ARG":
		case "WORKDIR":
			b.workdir = cleanAbs(in.args)
		case "ENV":
			var pairs [][2]string
			pairs, err = envPairs(in.args)
			for _, kv := range pairs {
				b.env[kv[0]] = kv[1]
			}
		case "COPY":
			// Sources into the working directory; only their destination matters here.
			f := strings.Fields(in.args)
			if dest := b.abs(f[len(f)-1]); strings.HasPrefix(dest+"/", outDir+"/") {
				err = fmt.Errorf("COPY into %s is not modelled", dest)
			}
		case "RUN":
			err = b.run(in.args)
		default:
			err = fmt.Errorf("%s is not modelled in a build stage", in.keyword)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", in.line, err)
		}
	}
	return b, nil
}

// token is a shell word, or an operator (&& || ; >) when op is set.
type token struct {
	s  string
	op bool
}

// shellTokens splits a command line the way sh does for the forms used here: blanks
// separate words, '…' and "…" quote (variables are left as written), and && || ; > are
// operators. Other shell syntax is refused.
func shellTokens(line string) ([]token, error) {
	var out []token
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			out = append(out, token{s: cur.String()})
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			inWord, i = true, i+1+end
		case c == ' ' || c == '\t':
			flush()
		case strings.HasPrefix(line[i:], "&&") || strings.HasPrefix(line[i:], "||"):
			flush()
			out = append(out, token{s: line[i : i+2], op: true})
			i++
		case c == ';' || c == '>':
			flush()
			out = append(out, token{s: string(c), op: true})
		case strings.IndexByte("|&<`()\\", c) >= 0:
			return nil, fmt.Errorf("shell syntax %q is not modelled in %q", c, line)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return out, nil
}

// plainWords splits words and refuses operators.
func plainWords(line string) ([]string, error) {
	toks, err := shellTokens(line)
	var words []string
	for _, t := range toks {
		if t.op {
			return nil, fmt.Errorf("operator %s not expected in %q", t.s, line)
		}
		words = append(words, t.s)
	}
	return words, err
}

// run executes a RUN line: a for loop over items, or commands joined by && or ;.
func (b *buildStage) run(line string) error {
	toks, err := shellTokens(line)
	if err != nil {
		return err
	}
	if len(toks) > 0 && toks[0] == (token{s: "for"}) {
		return b.runLoop(toks)
	}
	return b.runCommands(toks)
}

// runLoop runs `for v in items...; do body; done`, substituting ${v}, ${v#*:} and
// ${v%%:*} in the body for each item.
func (b *buildStage) runLoop(toks []token) error {
	semi := slices.Index(toks, token{s: ";", op: true})
	done := slices.Index(toks, token{s: "done"})
	if len(toks) < 4 || toks[2].s != "in" || semi < 0 || toks[semi+1].s != "do" || done != len(toks)-1 {
		return fmt.Errorf("only `for v in ...; do ...; done` alone on a RUN line is modelled")
	}
	v := toks[1].s
	for _, item := range toks[3:semi] {
		before, after, _ := strings.Cut(item.s, ":")
		body := slices.Clone(toks[semi+2 : done])
		for i, t := range body {
			t.s = strings.NewReplacer("${"+v+"}", item.s, "${"+v+"#*:}", after, "${"+v+"%%:*}", before).Replace(t.s)
			body[i] = t
		}
		if err := b.runCommands(body); err != nil {
			return fmt.Errorf("for %s=%s: %w", v, item.s, err)
		}
	}
	return nil
}

// runCommands runs commands separated by && or ;, each optionally `|| exit 1` (which
// changes nothing when every command is assumed to succeed).
func (b *buildStage) runCommands(toks []token) error {
	var args []string
	redirect := ""
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && !toks[i].op {
			args = append(args, toks[i].s)
			continue
		}
		if i < len(toks) && toks[i].s == ">" {
			if i+1 >= len(toks) || toks[i+1].op {
				return fmt.Errorf("> without a file")
			}
			redirect, i = toks[i+1].s, i+1
			continue
		}
		if len(args) > 0 {
			if err := b.command(args, redirect); err != nil {
				return err
			}
		}
		if i < len(toks) && toks[i].s == "||" {
			if i+3 > len(toks) || !slices.Equal(toks[i+1:i+3], []token{{s: "exit"}, {s: "1"}}) {
				return fmt.Errorf("only `|| exit 1` is modelled")
			}
			i += 2
		}
		args, redirect = nil, ""
	}
	return nil
}
