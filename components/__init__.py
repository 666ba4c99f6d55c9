"""Pulumi ComponentResources that turn the dsxbus domain objects into Kubernetes resources."""
