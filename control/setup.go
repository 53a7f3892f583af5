package control

import (
	"context"
	"fmt"
	"sort"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
)

// SearchAttributes are the custom search attributes the loop sets.
var SearchAttributes = map[string]enums.IndexedValueType{
	"SyncTenant":        enums.INDEXED_VALUE_TYPE_KEYWORD,
	"SyncProvider":      enums.INDEXED_VALUE_TYPE_KEYWORD,
	"SyncObjectType":    enums.INDEXED_VALUE_TYPE_KEYWORD,
	"SyncState":         enums.INDEXED_VALUE_TYPE_KEYWORD,
	"SyncLastSuccessAt": enums.INDEXED_VALUE_TYPE_DATETIME,
	"SyncNextRunAt":     enums.INDEXED_VALUE_TYPE_DATETIME,
}

// EnsureSearchAttributes registers the missing search attributes in the
// namespace (idempotent). Without them, loops cannot record their state.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	_, err := AddMissingSearchAttributes(ctx, c, namespace)
	return err
}

// AddMissingSearchAttributes registers the search attributes the
// namespace lacks and returns their names (none: already set up).
func AddMissingSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	existing, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %q: %w", namespace, err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range SearchAttributes {
		if have, ok := existing.GetCustomAttributes()[name]; ok {
			if have != typ {
				return nil, fmt.Errorf("search attribute %s exists in namespace %q with type %s, syncloop needs %s: remove it or use another namespace", name, namespace, have, typ)
			}
			continue
		}
		missing[name] = typ
	}
	if len(missing) == 0 {
		return nil, nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing})
	if err != nil {
		return nil, fmt.Errorf("register search attributes in namespace %q (needs operator rights; on Temporal Cloud add them with tcld): %w", namespace, err)
	}
	names := make([]string, 0, len(missing))
	for name := range missing {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}
