// SPDX-License-Identifier: Apache-2.0

package clientregistry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

const (
	// SecretType is the type of the Secrets holding client secret hashes.
	SecretType corev1.SecretType = "storage.selkie.dev/oidc-client-secrets"
	// BcryptCost is the cost of generated hashes and the least a stored hash may have.
	BcryptCost = 12

	secretNamePrefix = "selkie-oidc-client-secrets-"
	// keyHashes holds the hashes as a JSON list of strings, newest first.
	keyHashes = "hashes"
	// annotationClient names the OIDCClient, for people reading the Secret.
	annotationClient = "storage.selkie.dev/oidc-client"
	kindOIDCClient   = "OIDCClient"
)

// ErrUnreadable marks a client secret Secret that does not hold hashes in Selkie's format.
var ErrUnreadable = errors.New("the stored client secrets are unreadable")

// Client is what SecretStore needs of a Kubernetes client.
type Client interface {
	client.Reader
	client.Writer
}

// SecretStore keeps each OIDCClient's secret hashes, newest first, in one Secret of
// Namespace owned by the OIDCClient, so that deleting the client deletes its secrets.
// Only hashes are stored: a secret is shown once, when it is generated.
type SecretStore struct {
	// Client reads and writes the Secrets. Reads through a cache are fine for lookups;
	// read-modify-write callers should read from the API server, since writes carry the
	// resourceVersion read and fail with a Conflict when the Secret changed meanwhile.
	Client    Client
	Namespace string
	// OIDCClientAPIVersion is config.supervisor.<suffix>/v1alpha1, for owner references.
	OIDCClientAPIVersion string
}

// Hashes are the stored secret hashes of one OIDCClient.
type Hashes struct {
	// List holds bcrypt hashes, newest first.
	List []string
	// secret is the Secret as read (nil when there is none), whose resourceVersion
	// makes Set fail when it changed since.
	secret *corev1.Secret
}

// SecretName is the name of the Secret holding the hashes of the named OIDCClient.
// Client names may be longer than a Secret name can be, so it uses a digest.
func SecretName(clientName string) string {
	sum := sha256.Sum256([]byte(clientName))
	return secretNamePrefix + hex.EncodeToString(sum[:])[:16]
}

// Get returns the hashes stored for oc. A Secret left by an earlier OIDCClient of the
// same name (not yet garbage collected) holds no hashes for oc.
func (s *SecretStore) Get(ctx context.Context, oc *configv1alpha1.OIDCClient) (*Hashes, error) {
	var secret corev1.Secret
	name := SecretName(oc.Name)
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return &Hashes{}, nil
		}
		return nil, fmt.Errorf("read client secrets of %s: %w", oc.Name, err)
	}
	h := &Hashes{secret: &secret}
	if !ownedBy(&secret, oc) {
		return h, nil
	}
	if secret.Type != SecretType {
		return nil, fmt.Errorf("%w: Secret %s has type %q", ErrUnreadable, name, secret.Type)
	}
	if err := json.Unmarshal(secret.Data[keyHashes], &h.List); err != nil {
		return nil, fmt.Errorf("%w: Secret %s: %w", ErrUnreadable, name, err)
	}
	return h, nil
}

// Set stores list as oc's hashes, replacing those read into prev. It fails with a
// Conflict when the Secret changed since prev was read, and with AlreadyExists when
// someone else created it meanwhile.
func (s *SecretStore) Set(ctx context.Context, oc *configv1alpha1.OIDCClient, prev *Hashes, list []string) error {
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	var secret *corev1.Secret
	if prev != nil && prev.secret != nil {
		secret = prev.secret.DeepCopy()
	} else {
		secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: SecretName(oc.Name)}, Type: SecretType}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[annotationClient] = oc.Name
	secret.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: s.OIDCClientAPIVersion, Kind: kindOIDCClient, Name: oc.Name, UID: oc.UID, Controller: new(true),
	}}
	secret.Data = map[string][]byte{keyHashes: data}
	if secret.ResourceVersion == "" {
		return s.Client.Create(ctx, secret)
	}
	return s.Client.Update(ctx, secret)
}

// ownedBy reports whether secret belongs to this incarnation of oc.
func ownedBy(secret *corev1.Secret, oc *configv1alpha1.OIDCClient) bool {
	for _, ref := range secret.OwnerReferences {
		if ref.Kind == kindOIDCClient && ref.Name == oc.Name && ref.UID == oc.UID {
			return true
		}
	}
	return false
}
