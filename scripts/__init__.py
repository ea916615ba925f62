"""Build tooling outside the package: the container image's wheelhouse, labels and Debian base."""
