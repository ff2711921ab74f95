// Package distribution is the registry side of image distribution: which
// endpoints serve a repository (registry mirrors for Docker Hub, insecure
// registries, loopback registries insecure by default as in Docker), the
// credentials a client sent in X-Registry-Auth, authenticated transports
// (go-containerregistry's ping, basic and bearer-token flows), and the
// requests pull and push make: manifests, resumable blob downloads, blob
// existence checks, cross-repository mounts, uploads, tag lists; plus the
// login check behind POST /auth and the v1 search behind GET /images/search.
//
// It owns no state on disk: package image decides what to fetch and stores
// it. Errors that users see carry Docker's wording (Error, LoginError,
// SearchError) and an errdefs class, so the daemon answers with Docker's
// status codes.
package distribution
