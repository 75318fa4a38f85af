// Package interop holds tests that run the refresh library against authorization
// servers other people wrote: ory/fosite in-process and panva's oidc-provider under
// Node. It has no API; its tests are the point. See README.md in this directory.
package interop
