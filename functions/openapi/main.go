// Command openapi is the Lambda function behind GET /v1/openapi.json (public).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/openapi"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.Static("openapi", openapi.Handler()) }
