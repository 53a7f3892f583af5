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

	"github.com/spf13/cobra"

	"github.com/syncloop/syncloop/control"
	"github.com/syncloop/syncloop/secrets"
	"github.com/syncloop/syncloop/store"
)

func connectionsCmd() *cobra.Command {
	cmd := groupCommand(&cobra.Command{Use: "connections", Short: "Add, list and remove provider connections (credentials are stored encrypted)"})
	cmd.AddCommand(connectionsAddCmd(),
		reportCmd("list", "List connections and the objects using them (never their credentials)", "syncloop connections list",
			(*control.Service).ListConnections, printConnections),
		connectionsRemoveCmd())
	return cmd
}

func connectionsAddCmd() *cobra.Command {
	var provider, baseURL, tokenEnv string
	var tokenStdin, insecureHTTP bool
	cmd := &cobra.Command{
		Use:   "add <name> --provider salesforce|hubspot|demo [--base-url URL] (--token-env VAR | --token-stdin)",
		Short: "Add a connection; its access token is encrypted with SYNCLOOP_SECRET_KEY",
		Long: `Add a connection. The access token is never taken as a flag value (it would
show in shell history and process lists): name an environment variable that
holds it (--token-env) or pipe it on standard input (--token-stdin).`,
		Example: "SF_TOKEN=00D... syncloop connections add acme-sf --provider salesforce --base-url https://acme.my.salesforce.com --token-env SF_TOKEN",
		Args:    exactArgs(1, "one connection name"),
		RunE: func(c *cobra.Command, args []string) error {
			token, err := readToken(c.InOrStdin(), tokenEnv, tokenStdin)
			if err != nil {
				return err
			}
			nc := control.NewConnection{Name: args[0], Provider: provider, BaseURL: baseURL, Token: token, InsecureHTTP: insecureHTTP}
			if err := control.ValidateConnection(nc); err != nil {
				return err
			}
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if _, err := secrets.FromKey(cfg.SecretKey); token != "" && err != nil {
				return &control.InputError{Err: err}
			}
			return withService(c, func(ctx context.Context, svc *control.Service) error {
				info, err := svc.AddConnection(ctx, nc)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "added connection %s (%s); use it with `syncloop objects add <tenant>/%s/<object_type> --connection %s`\n",
					info.Name, info.Provider, info.Provider, info.Name)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "salesforce, hubspot or demo")
	cmd.Flags().StringVar(&baseURL, "base-url", "", "API base URL: the Salesforce instance URL; HubSpot defaults to https://api.hubapi.com")
	cmd.Flags().StringVar(&tokenEnv, "token-env", "", "name of the environment variable holding the access token")
	cmd.Flags().BoolVar(&tokenStdin, "token-stdin", false, "read the access token from standard input")
	cmd.Flags().BoolVar(&insecureHTTP, strings.TrimPrefix(control.FlagInsecureHTTP, "--"), false,
		"accept an http:// --base-url on a non-loopback host for salesforce or hubspot (the token travels in cleartext)")
	return cmd
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
	fmt.Fprintln(tw, "NAME\tPROVIDER\tBASE URL\tCREDENTIALS\tOBJECTS")
	for _, c := range conns {
		creds := "none"
		if c.HasSecret {
			creds = "encrypted"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Name, c.Provider, dash(c.BaseURL), creds, listOrDash(c.Objects))
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
