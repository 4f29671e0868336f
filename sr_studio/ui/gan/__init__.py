"""The GAN tab and its sample grid."""
