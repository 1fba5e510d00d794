"""The image store, image formats, and the tree operations that use them."""
