"""The REST API, version 1. One module per resource."""
