// Package ctxio ties long copies to a context: a reader that fails once
// the context ends, so that an image load, a layer apply or a push stops
// when the request that started it is gone, between reads of its source.
package ctxio
