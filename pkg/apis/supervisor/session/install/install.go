// SPDX-License-Identifier: Apache-2.0

package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
	"github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
)

// Install registers the internal and v1alpha1 versions in scheme and prefers v1alpha1.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(session.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(v1alpha1.SchemeGroupVersion))
}
