// SPDX-License-Identifier: Apache-2.0

// Package whoami implements `selkie whoami`: it asks the concierge who the current
// kubeconfig's credentials authenticate as (a WhoAmIRequest), through the same path
// kubectl would use, exec plugin included.
package whoami

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
)

type flagpole struct {
	kubeconfig, context, suffix, output string
	timeout                             time.Duration
}

// NewCommand returns `whoami`.
func NewCommand() *cobra.Command {
	f := &flagpole{}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Print the user the current kubeconfig authenticates as",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.context, "kubeconfig-context", "", "kubeconfig context (default the current one)")
	fs.StringVar(&f.suffix, "api-group-suffix", suffix.Default, "concierge API group suffix")
	fs.StringVarP(&f.output, "output", "o", "text", "output format: text, yaml or json")
	fs.DurationVar(&f.timeout, "timeout", 0, "give up after this long (0: never)")
	return cmd
}

func run(ctx context.Context, out io.Writer, f *flagpole) error {
	if f.output != "text" && f.output != "yaml" && f.output != "json" {
		return fmt.Errorf("--output %q: use text, yaml or json", f.output)
	}
	if err := suffix.Validate(f.suffix); err != nil {
		return fmt.Errorf("--api-group-suffix: %w", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context})
	raw, err := loader.RawConfig()
	if err != nil {
		return fmt.Errorf("could not load the kubeconfig: %w", err)
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return fmt.Errorf("could not load the kubeconfig: %w", err)
	}
	result, err := request(ctx, cfg, suffix.Group("identity.concierge."+suffix.Default, f.suffix))
	if err != nil {
		return err
	}
	switch f.output {
	case "json":
		b, err := json.MarshalIndent(result, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(result)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	contextName := f.context
	if contextName == "" {
		contextName = raw.CurrentContext
	}
	name, url := "???", "???"
	if c, ok := raw.Contexts[contextName]; ok {
		name = c.Cluster
		if cl, ok := raw.Clusters[c.Cluster]; ok {
			url = cl.Server
		}
	}
	u := result.Status.KubernetesUserInfo.User
	_, err = fmt.Fprintf(out, "Current cluster info:\n\nName: %s\nURL: %s\n\nCurrent user info:\n\nUsername: %s\nGroups: %s\n",
		name, url, u.Username, strings.Join(u.Groups, ", "))
	return err
}

// request creates a WhoAmIRequest with the kubeconfig's credentials, in JSON.
func request(ctx context.Context, cfg *rest.Config, group string) (*identityv1alpha1.WhoAmIRequest, error) {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("could not build a client for the kubeconfig: %w", err)
	}
	body, err := json.Marshal(&identityv1alpha1.WhoAmIRequest{TypeMeta: metav1.TypeMeta{APIVersion: group + "/v1alpha1", Kind: "WhoAmIRequest"}})
	if err != nil {
		return nil, err
	}
	url := strings.TrimSuffix(cfg.Host, "/") + cfg.APIPath + "/apis/" + group + "/v1alpha1/whoamirequests"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("could not complete WhoAmIRequest: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("could not complete WhoAmIRequest (is the concierge installed with API group suffix %q?): %s", group, resp.Status)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("could not complete WhoAmIRequest: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var result identityv1alpha1.WhoAmIRequest
	if err := json.Unmarshal(raw, &result); err != nil {
		return nil, fmt.Errorf("could not decode the WhoAmIRequest: %w", err)
	}
	return &result, nil
}
