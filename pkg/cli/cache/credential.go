// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthenticationv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
)

const (
	// credentialKind is the kind of the credential cache file.
	credentialKind = "CredentialCache"

	// credentialMaxAge is how long a credential may stay cached even if still valid (§3.7).
	credentialMaxAge = time.Hour
)

// CredentialCache is the YAML cache of ExecCredential statuses (docs/wire-contract.md §3.7). It
// is safe for concurrent use by several goroutines and processes; each call locks the
// file.
type CredentialCache struct {
	s store
}

// NewCredentialCache returns the credential cache stored at path. Nothing is touched on
// disk until the first call.
func NewCredentialCache(path string, opts ...Option) *CredentialCache {
	return &CredentialCache{s: store{path: path, opts: newOptions(opts)}}
}

// Get returns a copy of the unexpired credential cached under key and marks the entry as
// used, or nil when there is none (including when key is empty or the file cannot be
// locked or read).
func (c *CredentialCache) Get(key string) *clientauthenticationv1beta1.ExecCredentialStatus {
	if key == "" {
		return nil
	}
	var result *clientauthenticationv1beta1.ExecCredentialStatus
	update(&c.s, false, func(f *credentialFile, now time.Time) {
		if e := f.lookup(key); e != nil {
			result = e.Credential.DeepCopy()
			e.LastUsedTimestamp = metaTime(now)
		}
	})
	return result
}

// Put stores a copy of status under key, replacing the credential of an existing entry
// (which keeps its creationTimestamp, so the one-hour limit still runs from the first
// Put) or creating an entry. A status without expirationTimestamp, or already expired,
// is not stored. An empty key does nothing.
func (c *CredentialCache) Put(key string, status *clientauthenticationv1beta1.ExecCredentialStatus) {
	if key == "" {
		return
	}
	update(&c.s, true, func(f *credentialFile, now time.Time) {
		if e := f.lookup(key); e != nil {
			e.Credential = status.DeepCopy()
			e.LastUsedTimestamp = metaTime(now)
			return
		}
		f.Credentials = append(f.Credentials, credentialEntry{
			Key:               key,
			CreationTimestamp: metaTime(now),
			LastUsedTimestamp: metaTime(now),
			Credential:        status.DeepCopy(),
		})
	})
}

// Delete removes the entry for key and reports whether there was a live one.
func (c *CredentialCache) Delete(key string) bool {
	if key == "" {
		return false
	}
	removed := false
	update(&c.s, false, func(f *credentialFile, _ time.Time) {
		before := len(f.Credentials)
		f.Credentials = slices.DeleteFunc(f.Credentials, func(e credentialEntry) bool { return e.Key == key })
		removed = len(f.Credentials) < before
	})
	return removed
}

// DeleteAll removes every entry (logout --all) and returns how many it removed.
func (c *CredentialCache) DeleteAll() int {
	removed := 0
	update(&c.s, false, func(f *credentialFile, _ time.Time) {
		removed = len(f.Credentials)
		f.Credentials = nil
	})
	return removed
}

// CredentialKey returns the credential cache key of `login oidc`: the lowercase hex
// SHA-256 of the encoding/json encoding, with json.Encoder's trailing newline, of
// {"args":args,"cluster":cluster}. args are the command-line arguments after the program
// name (nil is encoded as [], as os.Args[1:] would be); cluster is spec.cluster from
// KUBERNETES_EXEC_INFO, or nil (encoded as null). It returns the empty string, which the
// cache treats as "do not cache", only if cluster.config is not valid JSON.
func CredentialKey(args []string, cluster *clientauthenticationv1beta1.Cluster) string {
	return jsonSHA256Hex(struct {
		Args    []string                             `json:"args"`
		Cluster *clientauthenticationv1beta1.Cluster `json:"cluster"`
	}{Args: nonNil(args), Cluster: cluster})
}

// StaticCredentialKey returns the credential cache key of `login static`: like
// CredentialKey, with the token value between args and cluster:
// {"args":args,"token":token,"cluster":cluster}.
func StaticCredentialKey(args []string, token string, cluster *clientauthenticationv1beta1.Cluster) string {
	return jsonSHA256Hex(struct {
		Args    []string                             `json:"args"`
		Token   string                               `json:"token"`
		Cluster *clientauthenticationv1beta1.Cluster `json:"cluster"`
	}{Args: nonNil(args), Token: token, Cluster: cluster})
}

func nonNil(args []string) []string {
	if args == nil {
		return []string{}
	}
	return args
}

// jsonSHA256Hex hashes v exactly as the reference CLI does: json.NewEncoder with its
// defaults (HTML escaping on) and trailing newline.
func jsonSHA256Hex(v any) string {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(v); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// The types below mirror the reference CLI's execcredcache file types.
type (
	credentialFile struct {
		metav1.TypeMeta `json:",inline"`
		Credentials     []credentialEntry `json:"credentials"`
	}

	credentialEntry struct {
		Key               string                                            `json:"key"`
		CreationTimestamp metav1.Time                                       `json:"creationTimestamp"`
		LastUsedTimestamp metav1.Time                                       `json:"lastUsedTimestamp"`
		Credential        *clientauthenticationv1beta1.ExecCredentialStatus `json:"credential"`
	}
)

func (f *credentialFile) meta() *metav1.TypeMeta { return &f.TypeMeta }

func (*credentialFile) kind() string { return credentialKind }

// normalize drops entries without a credential or expirationTimestamp, expired ones and
// ones created more than credentialMaxAge ago, and sorts the rest by creation.
func (f *credentialFile) normalize(now time.Time) {
	cutoff := now.Add(-credentialMaxAge)
	kept := make([]credentialEntry, 0, len(f.Credentials))
	for _, e := range f.Credentials {
		switch {
		case e.Credential == nil || e.Credential.ExpirationTimestamp == nil,
			e.Credential.ExpirationTimestamp.Time.Before(now),
			e.CreationTimestamp.Time.Before(cutoff):
			continue
		}
		kept = append(kept, e)
	}
	slices.SortStableFunc(kept, func(a, b credentialEntry) int {
		return a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time)
	})
	f.Credentials = kept
}

// lookup returns the first entry for key, or nil.
func (f *credentialFile) lookup(key string) *credentialEntry {
	for i := range f.Credentials {
		if f.Credentials[i].Key == key {
			return &f.Credentials[i]
		}
	}
	return nil
}
