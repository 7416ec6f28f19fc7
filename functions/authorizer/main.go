// Command authorizer is the API Gateway Lambda REQUEST authorizer (payload
// 2.0, simple responses).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/platformkey"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.Authorize("authorizer", wiring.WithPlatformKeyParameter(platformkey.FromSSM)) }
