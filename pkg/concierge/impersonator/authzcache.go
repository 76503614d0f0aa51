// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"encoding/binary"
	"slices"
	"time"

	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

const (
	// authzCacheSize bounds the remembered decisions.
	authzCacheSize = 4096
	// maxCachedAttributes is the longest total of the request-controlled attributes whose
	// decision is remembered, as in Kubernetes' webhook authorizer: a client cannot fill
	// the cache with huge keys.
	maxCachedAttributes = 10000
)

// cachedAuthorizer remembers the API server's answers to SubjectAccessReviews for
// authzAllowTTL (allowed) or authzDenyTTL (anything else), as Kubernetes' webhook
// authorizer does, but keys them without building and JSON-encoding the review for every
// request (that encoding was about 5 % of the proxy's CPU). The key holds every attribute
// a review carries (user, UID, groups, extra, and the resource or non-resource attributes
// with their selectors), each length-prefixed, so two requests share a decision only if
// their reviews would be identical. Errors are never remembered.
type cachedAuthorizer struct {
	delegate           authorizer.UnconditionalAuthorizer
	cache              *utilcache.LRUExpireCache
	allowTTL, otherTTL time.Duration
}

type authzDecision struct {
	decision authorizer.Decision
	reason   string
}

func newCachedAuthorizer(delegate authorizer.UnconditionalAuthorizer, allowTTL, otherTTL time.Duration, now func() time.Time) *cachedAuthorizer {
	return &cachedAuthorizer{delegate: delegate, cache: utilcache.NewLRUExpireCacheWithClock(authzCacheSize, clockFunc(now)),
		allowTTL: allowTTL, otherTTL: otherTTL}
}

// Authorize answers from the cache or asks the delegate.
func (c *cachedAuthorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	key, ok := authzKey(attrs)
	if ok {
		if v, found := c.cache.Get(key); found {
			d := v.(authzDecision)
			return d.decision, d.reason, nil
		}
	}
	decision, reason, err := c.delegate.Authorize(ctx, attrs)
	if ok && err == nil {
		ttl := c.otherTTL
		if decision == authorizer.DecisionAllow {
			ttl = c.allowTTL
		}
		c.cache.Add(key, authzDecision{decision: decision, reason: reason}, ttl)
	}
	return decision, reason, err
}

// authzKey encodes what a SubjectAccessReview for attrs would carry; false when the
// request-controlled attributes are too long to remember.
func authzKey(attrs authorizer.Attributes) (string, bool) {
	controlled := len(attrs.GetNamespace()) + len(attrs.GetVerb()) + len(attrs.GetAPIGroup()) + len(attrs.GetAPIVersion()) +
		len(attrs.GetResource()) + len(attrs.GetSubresource()) + len(attrs.GetName()) + len(attrs.GetPath())
	if controlled >= maxCachedAttributes {
		return "", false
	}
	b := make([]byte, 0, 256)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	strs := func(ss []string) {
		b = binary.AppendUvarint(b, uint64(len(ss)))
		for _, s := range ss {
			str(s)
		}
	}
	if u := attrs.GetUser(); u != nil {
		b = append(b, 'u')
		str(u.GetName())
		str(u.GetUID())
		strs(u.GetGroups())
		extra := u.GetExtra()
		keys := make([]string, 0, len(extra))
		for k := range extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			str(k)
			strs(extra[k])
		}
	} else {
		b = append(b, '-')
	}
	if !attrs.IsResourceRequest() {
		b = append(b, 'n')
		str(attrs.GetPath())
		str(attrs.GetVerb())
		return string(b), true
	}
	b = append(b, 'r')
	for _, s := range []string{attrs.GetNamespace(), attrs.GetVerb(), attrs.GetAPIGroup(), attrs.GetAPIVersion(),
		attrs.GetResource(), attrs.GetSubresource(), attrs.GetName()} {
		str(s)
	}
	fields, fieldsErr := attrs.GetFieldSelector()
	b = binary.AppendUvarint(b, uint64(len(fields)))
	for _, r := range fields {
		str(string(r.Operator))
		str(r.Field)
		str(r.Value)
	}
	labels, labelsErr := attrs.GetLabelSelector()
	b = binary.AppendUvarint(b, uint64(len(labels)))
	for _, r := range labels {
		str(r.Key())
		str(string(r.Operator()))
		strs(r.ValuesUnsorted())
	}
	// A selector that did not parse whole is reviewed by its parsed part; keep such
	// requests apart from those whose selector parsed.
	b = append(b, flag(fieldsErr != nil), flag(labelsErr != nil))
	return string(b), true
}

func flag(set bool) byte {
	if set {
		return 1
	}
	return 0
}
