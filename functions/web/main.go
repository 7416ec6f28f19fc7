// Command web is the Lambda function behind GET / and GET /ui/{proxy+}: the
// Approvals page's embedded static files (shared/web).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.Web("web") }
