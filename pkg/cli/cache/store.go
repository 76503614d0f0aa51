// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	// apiVersion is the apiVersion of both cache files (docs/wire-contract.md §0.2).
	apiVersion = "config.supervisor.pinniped.dev/v1alpha1"

	// errUnsupportedFile is wrapped when a file parses but has another apiVersion/kind.
	errUnsupportedFile = constError("unsupported cache file apiVersion or kind")
)

// document is a pointer to a cache file's top-level object.
type document[D any] interface {
	*D
	// meta returns the object's apiVersion and kind.
	meta() *metav1.TypeMeta
	// kind is the kind this document type is stored as.
	kind() string
	// normalize drops stale entries and sorts the rest, as of now.
	normalize(now time.Time)
}

// store is the file plumbing shared by both caches.
type store struct {
	path string
	opts options
}

// report sends an error the cache swallowed to the debug logger.
func (s *store) report(msg string, err error) {
	s.opts.log.Debug(msg, "path", s.path, "error", err)
}

// update locks the cache file, reads and normalizes it, lets fn change it, normalizes it
// again and writes it back. With create false it does nothing (and returns false) when
// the file does not exist. It returns false when fn was not run because the operation
// had to be skipped; a failed write is only reported, since fn's result (a lookup) may
// still be valid.
func update[D any, P document[D]](s *store, create bool, fn func(doc P, now time.Time)) bool {
	if create {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
			s.report("could not create cache directory", err)
			return false
		}
	} else if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
		return false
	}

	lock, err := acquireLock(s.path+".lock", s.opts.lockTimeout)
	if err != nil {
		s.report("could not lock cache file, skipping", err)
		return false
	}
	defer func() {
		if err := lock.release(); err != nil {
			s.report("could not unlock cache file", err)
		}
	}()

	doc, ok := read[D, P](s)
	if !ok {
		return false
	}
	now := s.opts.clock()
	doc.normalize(now)
	fn(doc, now)
	doc.normalize(now)
	*doc.meta() = metav1.TypeMeta{APIVersion: apiVersion, Kind: doc.kind()}

	if err := s.write(doc); err != nil {
		s.report("could not write cache file", err)
	}
	return true
}

// read returns the decoded file: an empty document when the file does not exist or must
// be reset, and false when it exists but cannot be read (then nothing is written, so a
// file this process cannot read is never clobbered).
func read[D any, P document[D]](s *store) (P, bool) {
	data, err := os.ReadFile(s.path) //nolint:gosec // G703: the user's own cache path (a flag or the default).
	if errors.Is(err, fs.ErrNotExist) {
		return P(new(D)), true
	}
	if err != nil {
		s.report("could not read cache file, skipping", err)
		return nil, false
	}
	doc, err := decode[D, P](data)
	if err != nil {
		s.report("invalid cache file, resetting", err)
		return P(new(D)), true
	}
	return doc, true
}

// decode parses a cache file and checks its apiVersion and kind. It never panics: a
// corrupt file must not break the login that happens to read it.
func decode[D any, P document[D]](data []byte) (doc P, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc, err = nil, fmt.Errorf("parse cache file: panic: %v", r)
		}
	}()
	doc = P(new(D))
	if err := yaml.Unmarshal(data, doc); err != nil {
		return nil, fmt.Errorf("parse cache file: %w", err)
	}
	if m := doc.meta(); m.APIVersion != apiVersion || m.Kind != doc.kind() {
		return nil, fmt.Errorf("%w: apiVersion %q, kind %q", errUnsupportedFile, m.APIVersion, m.Kind)
	}
	return doc, nil
}

// write marshals doc and replaces the file atomically (temporary file with mode 0600 in
// the same directory, then rename), so a crash never leaves a truncated cache. A symlink
// at path is followed, as the reference CLI's in-place write would.
func (s *store) write(doc any) error {
	data, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("marshal cache file: %w", err)
	}
	if err := readsBack(doc, data); err != nil {
		return err
	}
	target := resolveSymlinks(s.path)
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	if err := writeAndClose(tmp, data); err != nil {
		_ = os.Remove(tmp.Name()) //nolint:gosec // G703: the temporary file this process just created.
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil { //nolint:gosec // G703: the user's own cache path (a flag or the default).
		_ = os.Remove(tmp.Name()) //nolint:gosec // G703: the temporary file this process just created.
		return fmt.Errorf("replace cache file: %w", err)
	}
	return nil
}

// errNotFaithful is returned when a document would not read back as written.
const errNotFaithful = constError("the cache file would not read back as written (a value holds a character YAML cannot carry, such as DEL or NEL), so it was not written")

// readsBack checks that data, the YAML encoding of doc, decodes to doc again. YAML
// refuses some characters (the encoder fails on DEL) and folds others (NEL reads back
// as a space): a credential changed on the way would be served from the cache later,
// so such a document is not written and the entry it carried is simply not cached.
func readsBack(doc any, data []byte) error {
	back := reflect.New(reflect.TypeOf(doc).Elem()).Interface()
	if err := yaml.Unmarshal(data, back); err != nil {
		return fmt.Errorf("%w: %w", errNotFaithful, err)
	}
	want, werr := json.Marshal(doc)
	got, gerr := json.Marshal(back)
	if werr != nil || gerr != nil || !bytes.Equal(want, got) {
		return errNotFaithful
	}
	return nil
}

// resolveSymlinks follows a (possibly dangling) chain of symlinks at path, up to a
// bound that stops loops, and returns the final path.
func resolveSymlinks(path string) string {
	for range 16 {
		dest, err := os.Readlink(path)
		if err != nil {
			break
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return path
}

func writeAndClose(f *os.File, data []byte) error {
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("write temporary file: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("close temporary file: %w", cerr)
	}
	return nil
}
