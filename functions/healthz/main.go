// Command healthz is the Lambda function behind GET /healthz.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.Static("healthz", lambdaapp.Health()) }
