package image

// Archiver moves images between the image store and tar archives:
// import makes a one-layer image from a filesystem tar (docker import),
// load reads `docker save` archives and OCI image layouts, save writes
// an archive both kinds of loader read. It unpacks layers into the
// store's layer store and records the images through imageStore, as the
// Distributor does for registries.
type Archiver struct {
	layers *layerStore
	images imageStore
}

// NewArchiver makes the archive side of the image store.
func NewArchiver(store *Service) *Archiver {
	return &Archiver{layers: store.layers, images: store}
}
