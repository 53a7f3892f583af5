package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/syncloop/syncloop/control"
)

func setupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "setup",
		Short: "Register syncloop's search attributes in the Temporal namespace (idempotent)",
		Long: `Registers SyncTenant, SyncProvider, SyncObjectType, SyncState (Keyword) and
SyncLastSuccessAt, SyncNextRunAt (Datetime) through the Operator service, so
loops can publish their state and the UI can list them. Running it again
changes nothing. It needs operator rights on the namespace; on Temporal Cloud
add them with tcld instead.`,
		Example: "TEMPORAL_ADDRESS=temporal.internal:7233 TEMPORAL_NAMESPACE=prod syncloop setup",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, ns, err := control.Dial(c.Context(), nil)
			if err != nil {
				return err
			}
			defer cl.Close()
			added, err := control.AddMissingSearchAttributes(c.Context(), cl, ns)
			if err != nil {
				return err
			}
			if len(added) == 0 {
				fmt.Fprintf(c.OutOrStdout(), "namespace %q already has syncloop's search attributes\n", ns)
				return nil
			}
			fmt.Fprintf(c.OutOrStdout(), "registered in namespace %q: %s\n", ns, strings.Join(added, ", "))
			return nil
		},
	}
}
