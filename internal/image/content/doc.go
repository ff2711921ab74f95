// Package content is the content-addressed blob store of the image
// service: original layer blobs (compressed as they came) kept for save and
// push. Blobs are verified and written atomically; the image service
// decides which blobs are still referenced and deletes the rest.
package content
