// Command healthz is the Lambda function behind GET /healthz.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() { lambdaapp.Start("healthz", lambdaapp.Health()) }
