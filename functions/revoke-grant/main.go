// Command revoke-grant is the Lambda function behind its route in shared/routes.
// It revokes through the access provider (PROVIDER, see shared/provider/providers).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() {
	wiring.API("revoke-grant", api.RevokeGrant, wiring.WithProvider(providers.IdentityCenter))
}
