// Command openapi is the Lambda function behind GET /v1/openapi.json (public).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/openapi"
)

func main() { lambdaapp.Start("openapi", openapi.Handler()) }
