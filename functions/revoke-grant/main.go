// Command revoke-grant is the Lambda function behind its route in shared/routes.
// It revokes through the access provider (PROVIDER, see shared/provider/providers).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
)

func main() {
	lambdaapp.Run("revoke-grant", api.FromEnv(api.WithProvider(providers.FromEnv)), api.RevokeGrant)
}
