package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

func connectionsCmd() *cobra.Command {
	cmd := groupCommand(&cobra.Command{Use: "connections", Short: "Add, list, show and remove provider connections (credentials are stored encrypted)"})
	cmd.AddCommand(connectionsAddCmd(),
		reportCmd("list", "List connections and the objects using them (never their credentials)", "syncloop connections list",
			(*control.Service).ListConnections, printConnections),
		connectionsShowCmd(),
		connectionsObjectsCmd(),
		connectionsRemoveCmd())
	return cmd
}

func connectionsAddCmd() *cobra.Command {
	var provider, baseURL, tokenEnv, tokenURL, clientID, clientSecretEnv, refreshTokenEnv, jwtKeyFile, jwtSubject, jwtAudience string
	var tokenStdin, insecureHTTP bool
	cmd := &cobra.Command{
		Use:   "add <name> --provider salesforce|hubspot|demo [--base-url URL] (--token-env VAR | --token-stdin | --oauth-token-url URL --client-id ID (--client-secret-env VAR --refresh-token-env VAR | --jwt-key-file PATH --jwt-subject USER))",
		Short: "Add or replace a connection; its credentials are encrypted with SYNCLOOP_SECRET_KEY",
		Long: `Add a connection, or replace the one of that name (same provider): the
objects using it then run a cycle at once with the new credentials.

Three kinds of credentials:
  static token   --token-env VAR | --token-stdin (never refreshed)
  OAuth refresh  --oauth-token-url URL --client-id ID --client-secret-env VAR --refresh-token-env VAR
                 (Salesforce https://login.salesforce.com/services/oauth2/token, test.salesforce.com
                 for sandboxes, or the org's My Domain; HubSpot https://api.hubapi.com/oauth/v1/token)
  JWT bearer     --oauth-token-url URL --client-id ID --jwt-key-file PATH --jwt-subject USERNAME
                 (Salesforce server-to-server)
OAuth connections need no access token up front: the first use obtains one,
and an expired one is refreshed (see ` + "`syncloop connections show`" + `).
Secrets are never taken as flag values (they would show in shell history and
process lists): they come from environment variables, standard input or a file.`,
		Example: `SF_TOKEN=00D... syncloop connections add acme-sf --provider salesforce --base-url https://acme.my.salesforce.com --token-env SF_TOKEN
SF_SECRET=... SF_REFRESH=5Aep... syncloop connections add acme-sf --provider salesforce --oauth-token-url https://login.salesforce.com/services/oauth2/token --client-id 3MVG9... --client-secret-env SF_SECRET --refresh-token-env SF_REFRESH
syncloop connections add acme-sf --provider salesforce --oauth-token-url https://login.salesforce.com/services/oauth2/token --client-id 3MVG9... --jwt-key-file server.key --jwt-subject sync@acme.com`,
		Args: exactArgs(1, "one connection name"),
		RunE: func(c *cobra.Command, args []string) error {
			token, err := readToken(c.InOrStdin(), tokenEnv, tokenStdin)
			if err != nil {
				return err
			}
			nc := control.NewConnection{Name: args[0], Provider: provider, BaseURL: baseURL, Token: token, InsecureHTTP: insecureHTTP,
				TokenURL: tokenURL, ClientID: clientID, JWTSubject: jwtSubject, JWTAudience: jwtAudience}
			if nc.ClientSecret, err = readEnv("--client-secret-env", clientSecretEnv, "the connected app's client secret"); err != nil {
				return err
			}
			if nc.RefreshToken, err = readEnv("--refresh-token-env", refreshTokenEnv, "the refresh token"); err != nil {
				return err
			}
			if jwtKeyFile != "" {
				if nc.JWTKey, err = os.ReadFile(jwtKeyFile); err != nil {
					return &control.InputError{Err: fmt.Errorf("--jwt-key-file: %v", err)}
				}
			}
			if err := control.ValidateConnection(nc); err != nil {
				return err
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if _, err := secrets.FromKey(cfg.SecretKey); nc.AuthKind() != store.AuthNone && err != nil {
				return &control.InputError{Err: err}
			}
			return withService(c, func(ctx context.Context, svc *control.Service) error {
				info, err := svc.AddConnection(ctx, nc)
				if err != nil {
					return err
				}
				out := c.OutOrStdout()
				if info.Replaced {
					fmt.Fprintf(out, "replaced connection %s (%s, %s)", info.Name, info.Provider, info.AuthKind)
					if len(info.Triggered) > 0 {
						fmt.Fprintf(out, "; triggered %s", strings.Join(info.Triggered, ", "))
					}
					fmt.Fprintln(out)
					for _, e := range info.TriggerErrors {
						fmt.Fprintf(c.ErrOrStderr(), "warning: could not trigger %s (it runs at its next re-check)\n", e)
					}
					return nil
				}
				fmt.Fprintf(out, "added connection %s (%s, %s); use it with `syncloop objects add <tenant>/%s/<object_type> --connection %s`\n",
					info.Name, info.Provider, info.AuthKind, info.Provider, info.Name)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&provider, "provider", "", "salesforce, hubspot or demo")
	f.StringVar(&baseURL, "base-url", "", "API base URL: the Salesforce instance URL (OAuth: taken from the token response if omitted); HubSpot defaults to https://api.hubapi.com")
	f.StringVar(&tokenEnv, "token-env", "", "static token: name of the environment variable holding the access token")
	f.BoolVar(&tokenStdin, "token-stdin", false, "static token: read the access token from standard input")
	f.StringVar(&tokenURL, "oauth-token-url", "", "OAuth: the token endpoint")
	f.StringVar(&clientID, "client-id", "", "OAuth: the connected app's consumer key / client ID")
	f.StringVar(&clientSecretEnv, "client-secret-env", "", "OAuth refresh flow: name of the environment variable holding the client secret")
	f.StringVar(&refreshTokenEnv, "refresh-token-env", "", "OAuth refresh flow: name of the environment variable holding the refresh token")
	f.StringVar(&jwtKeyFile, "jwt-key-file", "", "Salesforce JWT bearer flow: PEM file of the private key whose certificate the connected app holds")
	f.StringVar(&jwtSubject, "jwt-subject", "", "Salesforce JWT bearer flow: the username the sync acts as")
	f.StringVar(&jwtAudience, "jwt-audience", "", "Salesforce JWT bearer flow: the aud claim (default: https://login.salesforce.com, or https://test.salesforce.com for a sandbox token URL)")
	f.BoolVar(&insecureHTTP, strings.TrimPrefix(control.FlagInsecureHTTP, "--"), false,
		"accept an http:// --base-url or --oauth-token-url on a non-loopback host for salesforce or hubspot (credentials travel in cleartext)")
	return cmd
}

// readEnv reads a secret from the environment variable a flag names.
func readEnv(flag, env, what string) (string, error) {
	if env == "" {
		return "", nil
	}
	v := strings.TrimSpace(os.Getenv(env))
	if v == "" {
		return "", &control.InputError{Err: fmt.Errorf("%s %s: the environment variable is empty or unset: export %s in it first", flag, env, what)}
	}
	return v, nil
}

func connectionsShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show <name>",
		Short:   "Show a connection: provider, base URL, auth kind, token expiry, last refresh (never a secret)",
		Example: "syncloop connections show acme-sf",
		Args:    exactArgs(1, "one connection name"),
		RunE: func(c *cobra.Command, args []string) error {
			return withStore(c, func(ctx context.Context, svc *control.Service) error {
				info, err := svc.ShowConnection(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(c.OutOrStdout(), info)
				}
				printConnection(c.OutOrStdout(), info)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func connectionsObjectsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "objects <name>",
		Short:   "List the object types the provider has for this connection (custom ones included) and which sync incrementally",
		Example: "syncloop connections objects acme-sf",
		Args:    exactArgs(1, "one connection name"),
		RunE: func(c *cobra.Command, args []string) error {
			return withStore(c, func(ctx context.Context, svc *control.Service) error {
				types, err := svc.ConnectionObjects(ctx, args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(c.OutOrStdout(), types)
				}
				tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "OBJECT TYPE\tPROVIDER NAME\tLABEL\tCUSTOM\tINCREMENTAL")
				for _, t := range types {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, dash(t.ProviderName), dash(t.Label), yesNo(t.Custom), incremental(t.Incremental))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func incremental(b bool) string {
	if b {
		return "yes"
	}
	return "no (some changes need a full listing)"
}

func printConnection(w io.Writer, c store.ConnectionInfo) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "name\t%s\n", c.Name)
	fmt.Fprintf(tw, "provider\t%s\n", c.Provider)
	fmt.Fprintf(tw, "base url\t%s\n", dash(c.BaseURL))
	fmt.Fprintf(tw, "auth\t%s\n", authLabel(c.AuthKind))
	if c.TokenURL != "" {
		fmt.Fprintf(tw, "token url\t%s\n", c.TokenURL)
	}
	if c.AuthKind == store.AuthRefresh || c.AuthKind == store.AuthJWT {
		fmt.Fprintf(tw, "access token expires\t%s\n", at(c.TokenExpiresAt))
		last := "never (the first use obtains a token)"
		if c.RefreshedAt != nil {
			outcome := "ok"
			if c.RefreshOutcome != nil {
				outcome = *c.RefreshOutcome
			}
			last = at(c.RefreshedAt) + " " + outcome
			if c.RefreshError != "" {
				last += ": " + c.RefreshError
			}
		}
		fmt.Fprintf(tw, "last refresh\t%s\n", last)
	}
	fmt.Fprintf(tw, "objects\t%s\n", listOrDash(c.Objects))
	fmt.Fprintf(tw, "updated\t%s\n", c.UpdatedAt.UTC().Format(time.RFC3339))
	tw.Flush()
}

func authLabel(kind string) string {
	switch kind {
	case store.AuthStatic:
		return "static token"
	case store.AuthRefresh:
		return "OAuth refresh token"
	case store.AuthJWT:
		return "OAuth JWT bearer"
	}
	return "none"
}

func readToken(stdin io.Reader, env string, fromStdin bool) (string, error) {
	switch {
	case env != "" && fromStdin:
		return "", usageError{errors.New("use either --token-env or --token-stdin, not both")}
	case env != "":
		v := strings.TrimSpace(os.Getenv(env))
		if v == "" {
			return "", &control.InputError{Err: fmt.Errorf("environment variable %s is empty or unset: export the access token in it first", env)}
		}
		return v, nil
	case fromStdin:
		line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		if line = strings.TrimSpace(line); line == "" {
			return "", &control.InputError{Err: errors.New("no token on standard input: pipe it in, e.g. `printenv SF_TOKEN | syncloop connections add ... --token-stdin`")}
		}
		return line, nil
	}
	return "", nil
}

func printConnections(w io.Writer, conns []store.ConnectionInfo) {
	if len(conns) == 0 {
		fmt.Fprintln(w, "no connections yet: add one with `syncloop connections add <name> --provider salesforce|hubspot ...`")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPROVIDER\tBASE URL\tAUTH\tOBJECTS")
	for _, c := range conns {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, c.Provider, dash(c.BaseURL), authLabel(c.AuthKind), listOrDash(c.Objects))
	}
	tw.Flush()
}

func connectionsRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "remove <name>",
		Short:   "Remove a connection that no object uses",
		Example: "syncloop connections remove acme-sf",
		Args:    exactArgs(1, "one connection name"),
		RunE: func(c *cobra.Command, args []string) error {
			return withService(c, func(ctx context.Context, svc *control.Service) error {
				if err := svc.RemoveConnection(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "removed connection %s\n", args[0])
				return nil
			})
		},
	}
}
