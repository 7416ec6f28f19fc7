// Package openapi holds the API's contract: an OpenAPI 3.1 document for
// every /v1 route of shared/routes.Table (openapi.json, kept in the repo
// and embedded here), served at GET /v1/openapi.json without
// authentication. Tests hold the route table, the API test suites'
// requests and responses, and the Approvals page's calls to it.
package openapi

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var document []byte

// Document is the OpenAPI 3.1 document (JSON).
func Document() []byte { return document }

// Handler serves the document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(document)
	})
}
