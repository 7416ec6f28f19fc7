// Package tenantrole holds infra/tenant-role/template.yaml, the
// CloudFormation template a tenant deploys in its AWS organization's
// management (or Identity Center delegated administrator) account: the
// role jitsudo assumes, with the tenant's external id, to assign and
// remove IAM Identity Center permission sets. It has no code; its tests
// (go test ./infra/tenant-role/) check the template's trust policy and
// permissions against the IAM actions list docs/operations.md documents, the
// Identity Center calls the provider makes and the main template's
// TenantRoleName.
package tenantrole
