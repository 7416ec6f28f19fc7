// Command web is the Lambda function behind GET / and GET /ui/{proxy+}: the
// Approvals page's embedded static files (shared/web).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/web"
)

func main() {
	site, err := web.New(web.ConfigFromEnv())
	if err != nil {
		lambdaapp.Fatal(lambdaapp.Logger("web"), "assets", err)
	}
	lambdaapp.Start("web", site)
}
